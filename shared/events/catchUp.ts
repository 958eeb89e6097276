// The poll's events catch-up: Octopus drops the rest of a webhook batch after one failed call and
// never re-sends it (octopus-api.md §9), so the dashboard alone cannot replace a lost event: a rule
// triggered by it would never start. Each poll therefore reads the space's events since a stored
// cursor (one call per space per poll) and stores each one with the webhook's own store-once, so
// an event reaches the consumers (rules, watches, runs) exactly once whichever way it came.
import type { TableClient } from '@azure/data-tables';
import type { OctopusClient } from '../octopus/client.js';
import type { OctopusEvent } from '../octopus/events.js';
import type { Log } from '../runtime/log.js';
import type { Runtime } from '../runtime/runtime.js';
import { createIfAbsent, getOrUndefined, updateIfMatch } from '../storage/conditional.js';
import { encodeKey } from '../storage/keys.js';
import { deploymentCategories, octopusEventSchema } from './payload.js';
import {
  eventPartition,
  eventRowKey,
  eventsTable,
  storeEventOnce,
  type StoredEvent,
} from './store.js';

/** Events read per space per poll; a longer backlog is read over the next polls (newest first). */
export const catchUpPageSize = 200;

interface CursorRow {
  /** Every event with an auto id up to this one has been read (0: none yet, use `since`). */
  upTo: number;
  /** Before the first event: read events that occurred since this time. */
  since: string;
  /** The highest auto id read so far. */
  top: number;
  /** When > 0, events in (upTo, gapTop] are still to be read (a backlog longer than one page). */
  gapTop: number;
}

const cursorPartition = 'cursor';

/** The number of an event id (`Events-1203351` → 1203351), the auto id Octopus filters on. */
export function eventAutoId(id: string): number | undefined {
  const m = /^Events-(\d{1,15})$/.exec(id);
  return m?.[1] ? Number(m[1]) : undefined;
}

export interface CatchUpResult {
  /** Events stored by this catch-up (the webhook had not brought them). */
  stored: StoredEvent[];
  /** Octopus calls made (one per space). */
  calls: number;
  problems: { space: string; message: string }[];
}

/** The categories the consumers act on: deployments (watches, runs) and every rule's trigger. */
export function catchUpCategories(runtime: Runtime): string[] {
  return [
    ...new Set<string>([
      ...deploymentCategories,
      ...runtime.config.rules.map((r) => r.when.category),
    ]),
  ];
}

async function readCursor(
  table: TableClient,
  space: string,
): Promise<{ row: CursorRow | undefined; etag: string | undefined }> {
  const row = await getOrUndefined<CursorRow>(
    table,
    cursorPartition,
    encodeKey(space.toLowerCase()),
  );
  return row
    ? {
        row: { upTo: row.upTo, since: row.since, top: row.top, gapTop: row.gapTop },
        etag: row.etag,
      }
    : { row: undefined, etag: undefined };
}

/**
 * One call for one space: the events after the cursor, newest first. When more arrived than one page
 * holds, the page is the newest part: the cursor keeps the gap below it and the next polls read the
 * gap from its top, so every event is read once over a few polls.
 */
async function catchUpSpace(
  runtime: Runtime,
  space: string,
  octopus: OctopusClient,
  categories: readonly string[],
): Promise<StoredEvent[]> {
  const table = await runtime.tables.table(eventsTable);
  const { row, etag } = await readCursor(table, space);
  const now = runtime.clock.now();
  const first: CursorRow = {
    upTo: 0,
    since: now.toISOString(),
    top: 0,
    gapTop: 0,
  };
  if (!row) {
    // First poll: start from the newest event now. Events before the coordinator watched are not
    // replayed (a rule must not start for a deployment of an hour ago); later ones are all read.
    let newest = 0;
    for await (const page of octopus.events
      .list({ eventCategories: categories, pageSize: 1, maxItems: 1 })
      .byPage()) {
      newest = eventAutoId(page.items[0]?.Id ?? '') ?? 0;
      break;
    }
    const start = { ...first, upTo: newest, top: newest };
    await createIfAbsent(table, {
      partitionKey: cursorPartition,
      rowKey: encodeKey(space.toLowerCase()),
      ...start,
    });
    return [];
  }
  const cursor = row;
  const gap = cursor.gapTop > 0;
  const query = {
    eventCategories: categories,
    pageSize: catchUpPageSize,
    maxItems: catchUpPageSize,
    ...(cursor.upTo > 0 ? { fromAutoId: cursor.upTo + 1 } : { from: cursor.since }),
    ...(gap ? { toAutoId: cursor.gapTop } : {}),
  };
  let events: OctopusEvent[] = [];
  let total: number | undefined;
  for await (const page of octopus.events.list(query).byPage()) {
    events = page.items;
    total = page.totalResults;
    break;
  }
  const ids = events.map((e) => eventAutoId(e.Id)).filter((n): n is number => n !== undefined);
  const complete = total === undefined ? events.length < catchUpPageSize : total <= events.length;
  const top = Math.max(cursor.top, cursor.upTo, ...ids);
  const lowest = ids.length > 0 ? Math.min(...ids) : undefined;
  const next: CursorRow = complete
    ? // Everything up to the highest id read is read (a gap, if any, is now closed).
      { upTo: top, since: cursor.since, top, gapTop: 0 }
    : // The page is the newest part of what is left: below its lowest id is still to be read.
      {
        upTo: cursor.upTo,
        since: cursor.since,
        top,
        gapTop: lowest !== undefined ? lowest - 1 : cursor.gapTop,
      };
  const stored: StoredEvent[] = [];
  const receipt = { receivedAt: now, receivedBy: `${runtime.instanceId} (poll catch-up)` };
  // Most events came by webhook already: one range read finds them, so only the missing ones cost an
  // insert (each still goes through store-once, which settles a race with the webhook).
  const known = await storedEventKeys(table, lowest, ids.length > 0 ? Math.max(...ids) : undefined);
  for (const raw of events) {
    if (known.has(eventRowKey(raw.Id))) continue;
    const parsed = octopusEventSchema.safeParse({ ...raw, SpaceId: raw.SpaceId ?? null });
    if (!parsed.success) continue;
    const outcome = await storeEventOnce(runtime.tables, parsed.data, receipt);
    if (outcome.kind === 'stored') stored.push(outcome.stored);
  }
  // Move the cursor after the events are stored: a crash in between re-reads them (stored once).
  // A lost race means another instance moved it: it read the same events, so nothing is missed.
  const entity = { partitionKey: cursorPartition, rowKey: encodeKey(space.toLowerCase()), ...next };
  if (etag) await updateIfMatch(table, entity, etag);
  else await createIfAbsent(table, entity);
  return stored;
}

/** The row keys of the stored events whose auto ids lie in [low, high] (one query, keys only). */
async function storedEventKeys(
  table: TableClient,
  low: number | undefined,
  high: number | undefined,
): Promise<Set<string>> {
  const keys = new Set<string>();
  if (low === undefined || high === undefined) return keys;
  const { odata } = await import('@azure/data-tables');
  for await (const row of table.listEntities({
    queryOptions: {
      filter: odata`PartitionKey eq ${eventPartition} and RowKey ge ${eventRowKey(`Events-${low}`)} and RowKey le ${eventRowKey(`Events-${high}`)}`,
      select: ['RowKey'],
    },
  }))
    if (row.rowKey) keys.add(row.rowKey);
  return keys;
}

/** Read each space's events since its cursor (one call per space) and store the new ones. */
export async function catchUpEvents(
  runtime: Runtime,
  spaces: readonly string[],
  clientFor: (space: string) => OctopusClient | undefined,
  log: Log,
): Promise<CatchUpResult> {
  const result: CatchUpResult = { stored: [], calls: 0, problems: [] };
  const categories = catchUpCategories(runtime);
  const distinct = new Map(spaces.map((s) => [s.toLowerCase(), s]));
  for (const space of distinct.values()) {
    const octopus = clientFor(space);
    if (!octopus) continue;
    result.calls += 1;
    try {
      result.stored.push(...(await catchUpSpace(runtime, space, octopus, categories)));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      result.problems.push({ space, message });
      log.warn(`Status poll: events of space ${space} were not read: ${message}`);
    }
  }
  if (result.stored.length > 0)
    log.info(
      `Status poll: ${result.stored.length} event(s) the webhook had not brought were read from Octopus's events.`,
    );
  return result;
}
