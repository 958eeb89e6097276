// Step 3 of receiving a webhook: store each event once, keyed by its id, so duplicates change nothing.
// Rows are keyed by the event's number (ids grow with insertion), so "what is not processed yet"
// is a key-range read after a watermark rather than a scan of every event ever received.
import { createHash } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import {
  createIfAbsent,
  getOrUndefined,
  storageStatus,
  updateIfMatch,
  type WriteOutcome,
} from '../storage/conditional.js';
import { settledWithin } from '../storage/answerWithin.js';
import { deadLetterRow, isPoisonError } from '../storage/deadLetters.js';
import { pruneMatching, type PruneBudget, type PruneResult } from '../storage/prune.js';
import { encodeKey, paddedNumberKey } from '../storage/keys.js';
import { assertEntityFits, maxStringPropertyChars } from '../storage/limits.js';
import type { TableStore } from '../storage/tableStore.js';
import { submitBatch, type BatchAction } from '../storage/transaction.js';
import { octopusEventSchema, type OctopusWebhookEvent } from './payload.js';

export const eventsTable = 'events';
/** The partition events are kept in (the processor's watermark lives in `state`). */
export const eventPartition = 'octopus';
const statePartition = 'state';
const watermarkRow = 'watermark';
/** Events are re-read this many ids below the watermark, for deliveries that arrive late and out of order. */
export const lateArrivalLookbackIds = 2000;
/** After this many failed attempts an event is set aside (recorded, logged) instead of retried forever. */
export const maxProcessingAttempts = 20;

/** Row key of an event: its number, zero-padded so keys sort in id order; odd ids sort after all numbers. */
export function eventRowKey(eventId: string): string {
  const m = /^Events-(\d{1,15})$/.exec(eventId);
  return m?.[1] ? paddedNumberKey(Number(m[1])) : `x${encodeKey(eventId)}`;
}

export interface ReceiptInfo {
  receivedAt: Date;
  receivedBy: string;
  batchId?: string | null | undefined;
}

interface EventRow {
  eventId: string;
  category: string;
  occurred: string;
  spaceId: string;
  receivedAt: string;
  receivedBy: string;
  batchId: string;
  event: string;
  processedAt?: string;
  attempts?: number;
  lastError?: string;
  setAside?: boolean;
}

/** An event as stored, with what the processor needs to mark it. */
export interface StoredEvent {
  rowKey: string;
  etag: string;
  event: OctopusWebhookEvent;
  receivedAt: Date;
  attempts: number;
  processed: boolean;
}

/** A text cut to `max` characters with a hash of the whole, so distinct long texts stay distinct. */
function fitText(text: string, max: number): string {
  if (text.length <= max) return text;
  const hash = createHash('sha256').update(encodeKey(text)).digest('hex').slice(0, 32);
  return `${text.slice(0, max - 35)}...${hash}`;
}

/** JSON.stringify, or undefined when the value cannot be serialized (too deep: RangeError). */
function tryJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

/**
 * The event as the coordinator needs it, small enough for any row: the consumers read only these
 * fields, so an event too large or too deep to store whole is reduced to them, never held or lost.
 * The id is cut (with a hash of the whole) when it is absurdly long, as the row key is.
 */
export function reducedEvent(event: OctopusWebhookEvent): OctopusWebhookEvent {
  return {
    Id: fitText(event.Id, maxEventIdChars),
    Category: fitText(String(event.Category), 200),
    Occurred: fitText(event.Occurred, 100),
    RelatedDocumentIds: event.RelatedDocumentIds.slice(0, 200).map((id) => fitText(id, 200)),
    SpaceId: event.SpaceId ? fitText(event.SpaceId, 200) : event.SpaceId,
    Username: event.Username ? fitText(event.Username, 200) : event.Username,
    Message: fitText(event.Message ?? '', 2000),
  };
}

/** Event ids longer than this are cut (real ones are `Events-<number>`). */
export const maxEventIdChars = 512;

/**
 * The event as JSON that fits one property, dropping bulky prose first, then all but what is
 * needed; with the event as stored (what the consumers are then given).
 */
function eventJson(event: OctopusWebhookEvent): { json: string; stored: OctopusWebhookEvent } {
  const whole = event.Id.length <= maxEventIdChars ? tryJson(event) : undefined;
  if (whole !== undefined && whole.length <= maxStringPropertyChars)
    return { json: whole, stored: event };
  const { MessageHtml: _h, Details: _d, ChangeDetails: _c, MessageReferences: _r, ...rest } = event;
  const lighter = event.Id.length <= maxEventIdChars ? tryJson(rest) : undefined;
  if (lighter !== undefined && lighter.length <= maxStringPropertyChars)
    return { json: lighter, stored: rest };
  const reduced = reducedEvent(event);
  return { json: JSON.stringify(reduced), stored: reduced };
}

export type StoreOutcome = { kind: 'stored'; stored: StoredEvent } | { kind: 'duplicate' };

/** A new event's row: every property a string, so it can go in a transaction of our own (transaction.ts). */
type EventEntity = Omit<EventRow, 'processedAt' | 'attempts' | 'lastError' | 'setAside'> & {
  partitionKey: string;
  rowKey: string;
};

interface PendingInsert {
  entity: EventEntity;
  chars: number;
  resolve(outcome: WriteOutcome): void;
  reject(err: unknown): void;
}

/** At most this many rows per insert transaction (Table Storage's limit is 100). */
export const maxInsertBatchRows = 100;
/** ...and about this many characters of JSON (the limit is 4 MiB per transaction). */
const maxInsertBatchChars = 1024 * 1024;

/**
 * Group commit of event inserts into one table: while one request is out, the events stored
 * meanwhile wait and go together in the next, as one transaction (they share a partition). A lone
 * event is one plain insert, as before. A transaction is all or nothing, so when one is refused
 * (an event already there, one storage refuses) its events are inserted one by one, each getting
 * exactly the answer a lone insert gets; an outage fails them all, as it would each alone.
 */
class EventInserter {
  private waiting: PendingInsert[] = [];
  private sending: Promise<void> | undefined;
  /** The request out now, if any (the enqueuer waits for it, so its events share a message). */
  inFlight: Promise<void> | undefined;

  constructor(private readonly tables: TableStore) {}

  insert(entity: EventEntity): Promise<WriteOutcome> {
    return new Promise((resolve, reject) => {
      try {
        assertEntityFits(eventsTable, entity as unknown as Record<string, unknown>);
      } catch (err) {
        reject(err);
        return;
      }
      this.waiting.push({ entity, chars: entity.event.length + 1024, resolve, reject });
      // The flush starts with an await, so `sending` is set before it can be cleared.
      this.sending ??= this.flush();
    });
  }

  private take(): PendingInsert[] {
    const batch: PendingInsert[] = [];
    const keys = new Set<string>();
    const rest: PendingInsert[] = [];
    let chars = 0;
    for (const next of this.waiting) {
      const full =
        batch.length >= maxInsertBatchRows ||
        (batch.length > 0 && chars + next.chars > maxInsertBatchChars);
      // The same event twice (a retry racing the first): the second goes in a later request,
      // where it is found to be there already.
      if (full || keys.has(next.entity.rowKey)) {
        rest.push(next);
        continue;
      }
      batch.push(next);
      keys.add(next.entity.rowKey);
      chars += next.chars;
    }
    this.waiting = rest;
    return batch;
  }

  private async flush(): Promise<void> {
    // Inserts asked for in the same turn of the event loop (requests read together) join the first.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.waiting.length > 0) {
        const batch = this.take();
        // A request storage never answers must not hold back every later event (each caller has
        // its own deadline, storeBudgetMs): past insertWaitMs the next request goes anyway.
        const work = batch.length === 1 ? this.one(batch[0] as PendingInsert) : this.many(batch);
        this.inFlight = work;
        await settledWithin(work, insertWaitMs);
        this.inFlight = undefined;
      }
    } finally {
      // No await between the empty check and here, so nothing can be added unseen.
      this.sending = undefined;
    }
  }

  private async one(p: PendingInsert): Promise<void> {
    try {
      // A lone insert without the Table SDK (tableRest.ts): the first webhook after a cold start
      // loads no SDK; a transaction below loads it when events arrive together.
      p.resolve(await this.tables.insertIfAbsent(eventsTable, p.entity));
    } catch (err) {
      p.reject(err);
    }
  }

  private async many(batch: PendingInsert[]): Promise<void> {
    try {
      const answer = await submitBatch(
        await this.tables.table(eventsTable),
        batch.map((p) => ({ kind: 'create', entity: { ...p.entity } })),
      );
      batch.forEach((p, i) =>
        p.resolve({ ok: true, etag: answer.etags[i] ?? '*', date: undefined }),
      );
      return;
    } catch (err) {
      // An outage (no answer from storage) fails each of them as it would fail alone.
      if (storageStatus(err) === undefined && !isPoisonError(err)) {
        for (const p of batch) p.reject(err);
        return;
      }
    }
    await Promise.all(batch.map((p) => this.one(p)));
  }
}

/** How long the inserter waits for one request before it sends the next anyway. */
export const insertWaitMs = 2000;

const inserters = new WeakMap<TableStore, EventInserter>();

/** The insert request this store has out now, if any: resolves when it is answered. */
export function eventInsertInFlight(tables: TableStore): Promise<void> | undefined {
  return inserters.get(tables)?.inFlight;
}

function insertEvent(tables: TableStore, entity: EventEntity): Promise<WriteOutcome> {
  let inserter = inserters.get(tables);
  if (!inserter) {
    inserter = new EventInserter(tables);
    inserters.set(tables, inserter);
  }
  return inserter.insert(entity);
}

/**
 * Insert the event unless a row with its id exists: atomic across instances. Events stored at the
 * same moment in one process share one request (a transaction; see EventInserter).
 */
export async function storeEventOnce(
  tables: TableStore,
  event: OctopusWebhookEvent,
  receipt: ReceiptInfo,
): Promise<StoreOutcome> {
  const rowKey = eventRowKey(event.Id);
  // What the consumers see is what was stored: an event reduced to fit is processed reduced, so
  // the immediate pass and the poll's retry act on the same thing.
  const { json, stored: storedEvent } = eventJson(event);
  const outcome = await insertEvent(tables, {
    partitionKey: eventPartition,
    rowKey,
    eventId: fitText(event.Id, maxEventIdChars),
    category: fitText(String(event.Category), 200),
    occurred: fitText(event.Occurred, 100),
    spaceId: fitText(event.SpaceId ?? '', 200),
    receivedAt: receipt.receivedAt.toISOString(),
    receivedBy: receipt.receivedBy,
    batchId: fitText(receipt.batchId ?? '', 200),
    event: json,
  });
  if (!outcome.ok) return { kind: 'duplicate' };
  return {
    kind: 'stored',
    stored: {
      rowKey,
      etag: outcome.etag,
      event: storedEvent,
      receivedAt: receipt.receivedAt,
      attempts: 0,
      processed: false,
    },
  };
}

function toStoredEvent(
  row: EventRow & { rowKey?: string; etag?: string },
): StoredEvent | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(row.event);
  } catch {
    return undefined;
  }
  const event = octopusEventSchema.safeParse(parsed);
  if (!event.success || !row.rowKey) return undefined;
  return {
    rowKey: row.rowKey,
    etag: row.etag ?? '*',
    event: event.data,
    receivedAt: new Date(row.receivedAt),
    attempts: row.attempts ?? 0,
    processed: Boolean(row.processedAt),
  };
}

/** One stored event by its row key (undefined when there is no such row or it cannot be read back). */
export async function readStoredEvent(
  tables: TableStore,
  rowKey: string,
): Promise<StoredEvent | undefined> {
  const table = await tables.table(eventsTable);
  const row = await getOrUndefined<EventRow>(table, eventPartition, rowKey);
  return row ? toStoredEvent(row) : undefined;
}

/** What a pass needs to know of a stored event before processing it again. */
export interface EventState {
  etag: string;
  attempts: number;
  processed: boolean;
}

/**
 * The state of each given event row (missing rows are absent from the map). Numeric keys close to
 * each other (within the late-arrival lookback) are read as one key range, so a pass of events that
 * arrived together costs one request; other keys one read each.
 */
export async function readEventStates(
  tables: TableStore,
  rowKeys: readonly string[],
): Promise<Map<string, EventState>> {
  const table = await tables.table(eventsTable);
  const { odata } = await import('@azure/data-tables');
  const wanted = new Set(rowKeys);
  const numeric = [...wanted].filter((k) => /^\d+$/.test(k)).sort();
  const ranges: [string, string][] = [];
  for (const key of numeric) {
    const last = ranges.at(-1);
    if (last && Number(key) - Number(last[1]) <= lateArrivalLookbackIds) last[1] = key;
    else ranges.push([key, key]);
  }
  const states = new Map<string, EventState>();
  const keep = (row: {
    rowKey?: string;
    etag?: string;
    attempts?: number;
    processedAt?: string;
  }) => {
    if (!row.rowKey || !wanted.has(row.rowKey)) return;
    states.set(row.rowKey, {
      etag: row.etag ?? '*',
      attempts: row.attempts ?? 0,
      processed: Boolean(row.processedAt),
    });
  };
  await Promise.all([
    ...ranges.map(async ([from, to]) => {
      for await (const row of table.listEntities<{ attempts?: number; processedAt?: string }>({
        queryOptions: {
          filter: odata`PartitionKey eq ${eventPartition} and RowKey ge ${from} and RowKey le ${to}`,
          select: ['RowKey', 'attempts', 'processedAt'],
        },
      }))
        keep(row);
    }),
    ...[...wanted]
      .filter((k) => !/^\d+$/.test(k))
      .map(async (k) => {
        const row = await getOrUndefined<{ attempts?: number; processedAt?: string }>(
          table,
          eventPartition,
          k,
        );
        if (row) keep(row);
      }),
  ]);
  return states;
}

async function readWatermark(
  table: TableClient,
): Promise<{ key: string; etag: string | undefined }> {
  const row = await getOrUndefined<{ key: string }>(table, statePartition, watermarkRow);
  return { key: row?.key ?? '', etag: row?.etag };
}

/** The row key `lookback` ids below a numeric key (string keys have no "below": start from the start). */
function lowered(key: string): string {
  if (/^\d+$/.test(key)) return paddedNumberKey(Math.max(0, Number(key) - lateArrivalLookbackIds));
  return '';
}

/**
 * Events after the watermark (less a lookback for late arrivals), oldest id first, processed or not:
 * the caller processes the pending ones and advances the watermark over the prefix that is done.
 */
export async function readRecentEvents(
  tables: TableStore,
): Promise<{ events: StoredEvent[]; watermark: string }> {
  const table = await tables.table(eventsTable);
  const { odata } = await import('@azure/data-tables');
  const watermark = await readWatermark(table);
  const from = lowered(watermark.key);
  const events: StoredEvent[] = [];
  for await (const row of table.listEntities<EventRow>({
    queryOptions: { filter: odata`PartitionKey eq ${eventPartition} and RowKey gt ${from}` },
  })) {
    const stored = toStoredEvent(row);
    if (stored) events.push(stored);
  }
  return { events, watermark: watermark.key };
}

/** Move the watermark forward to `key` (never back). A lost race is fine: the next poll tries again. */
export async function advanceWatermark(tables: TableStore, key: string): Promise<void> {
  const table = await tables.table(eventsTable);
  const current = await readWatermark(table);
  if (current.key >= key) return;
  const entity = { partitionKey: statePartition, rowKey: watermarkRow, key };
  if (current.etag) await updateIfMatch(table, entity, current.etag);
  else await createIfAbsent(table, entity);
}

/**
 * Mark events processed: one transaction per 100 rows (they share a partition). When a transaction
 * fails for a reason that is not an outage, its rows are marked one by one, and a row that cannot be
 * marked at all is set aside (dead-lettered with the reason) instead of failing every later pass.
 * Returns the rows set aside.
 */
export async function markEventsProcessed(
  tables: TableStore,
  rowKeys: readonly string[],
  at: Date,
): Promise<string[]> {
  if (rowKeys.length === 0) return [];
  const table = await tables.table(eventsTable);
  const setAside: string[] = [];
  for (let i = 0; i < rowKeys.length; i += 100) {
    const chunk = rowKeys.slice(i, i + 100);
    const actions: BatchAction[] = chunk.map((rowKey) => ({
      kind: 'merge',
      entity: { partitionKey: eventPartition, rowKey, processedAt: at.toISOString() },
    }));
    try {
      await submitBatch(table, actions);
      continue;
    } catch (err) {
      // An outage fails the pass (retried next poll); anything else is found row by row below.
      if (!isPoisonError(err) && storageStatus(err) === undefined) throw err;
    }
    for (const rowKey of chunk) {
      try {
        await table.updateEntity(
          { partitionKey: eventPartition, rowKey, processedAt: at.toISOString() },
          'Merge',
        );
      } catch (err) {
        if (storageStatus(err) === 404) continue; // pruned meanwhile: nothing left to mark
        if (!isPoisonError(err)) throw err;
        await deadLetterRow(
          tables,
          eventsTable,
          { partitionKey: eventPartition, rowKey },
          `could not mark the event processed: ${(err as Error).message}`,
          at,
        );
        setAside.push(rowKey);
      }
    }
  }
  return setAside;
}

/** Record a failed attempt; after too many the event is set aside so it cannot block the rest. */
export async function recordEventFailure(
  tables: TableStore,
  stored: StoredEvent,
  error: string,
  at: Date,
): Promise<boolean> {
  const table = await tables.table(eventsTable);
  const attempts = stored.attempts + 1;
  const setAside = attempts >= maxProcessingAttempts;
  try {
    await updateIfMatch(
      table,
      {
        partitionKey: eventPartition,
        rowKey: stored.rowKey,
        attempts,
        lastError: error.slice(0, 4000),
        ...(setAside ? { processedAt: at.toISOString(), setAside: true } : {}),
      },
      stored.etag,
      'Merge',
    );
  } catch (err) {
    if (!isPoisonError(err)) throw err;
    // The row itself cannot be written: count cannot be kept on it, so set it aside now.
    await deadLetterRow(
      tables,
      eventsTable,
      { partitionKey: eventPartition, rowKey: stored.rowKey },
      `${error}; and the failure could not be recorded on the row: ${(err as Error).message}`,
      at,
    );
    return true;
  }
  if (setAside)
    await deadLetterRow(
      tables,
      eventsTable,
      { partitionKey: eventPartition, rowKey: stored.rowKey },
      `failed ${attempts} times: ${error}`,
      at,
    );
  return setAside;
}

/**
 * Delete processed events received before `before`. Unprocessed events are never deleted, whatever
 * their age, nor the processor's watermark (another partition): only rows the processor is done with.
 */
export async function pruneProcessedEvents(
  tables: TableStore,
  before: Date,
  budget: PruneBudget,
): Promise<PruneResult> {
  const { odata } = await import('@azure/data-tables');
  // receivedAt is an ISO string, so string order is time order. A row with no processedAt is
  // pending (or failing and not yet set aside): it stays.
  return pruneMatching(
    await tables.table(eventsTable),
    {
      filter: odata`PartitionKey eq ${eventPartition} and receivedAt lt ${before.toISOString()}`,
      select: ['receivedAt', 'processedAt'],
    },
    budget,
    (row) => typeof row.processedAt !== 'string' || row.processedAt === '',
  );
}
