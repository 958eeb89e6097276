// Step 3 of receiving a webhook: store each event once, keyed by its id, so duplicates change nothing.
// Rows are keyed by the event's number (ids grow with insertion), so "what is not processed yet"
// is a key-range read after a watermark rather than a scan of every event ever received.
import type { TableClient, TransactionAction } from '@azure/data-tables';
import { createIfAbsent, updateIfMatch, getOrUndefined } from '../storage/conditional.js';
import { encodeKey, paddedNumberKey } from '../storage/keys.js';
import { maxStringPropertyChars } from '../storage/limits.js';
import type { TableStore } from '../storage/tableStore.js';
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

/** The event as JSON that fits one property, dropping bulky prose first if it must. */
function eventJson(event: OctopusWebhookEvent): string {
  let json = JSON.stringify(event);
  if (json.length <= maxStringPropertyChars) return json;
  const { MessageHtml: _h, Details: _d, ChangeDetails: _c, MessageReferences: _r, ...rest } = event;
  json = JSON.stringify(rest);
  if (json.length <= maxStringPropertyChars) return json;
  return JSON.stringify({
    Id: event.Id,
    Category: event.Category,
    Occurred: event.Occurred,
    RelatedDocumentIds: event.RelatedDocumentIds.slice(0, 200),
    SpaceId: event.SpaceId,
    Username: event.Username,
    Message: (event.Message ?? '').slice(0, 2000),
  });
}

export type StoreOutcome = { kind: 'stored'; stored: StoredEvent } | { kind: 'duplicate' };

/** Insert the event unless a row with its id exists: one round trip, atomic across instances. */
export async function storeEventOnce(
  tables: TableStore,
  event: OctopusWebhookEvent,
  receipt: ReceiptInfo,
): Promise<StoreOutcome> {
  const table = await tables.table(eventsTable);
  const rowKey = eventRowKey(event.Id);
  const outcome = await createIfAbsent<EventRow>(table, {
    partitionKey: eventPartition,
    rowKey,
    eventId: event.Id,
    category: event.Category,
    occurred: event.Occurred,
    spaceId: event.SpaceId ?? '',
    receivedAt: receipt.receivedAt.toISOString(),
    receivedBy: receipt.receivedBy,
    batchId: receipt.batchId ?? '',
    event: eventJson(event),
  });
  if (!outcome.ok) return { kind: 'duplicate' };
  return {
    kind: 'stored',
    stored: {
      rowKey,
      etag: outcome.etag,
      event,
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

/** Mark events processed: one transaction per 100 rows (they share a partition). */
export async function markEventsProcessed(
  tables: TableStore,
  rowKeys: readonly string[],
  at: Date,
): Promise<void> {
  if (rowKeys.length === 0) return;
  const table = await tables.table(eventsTable);
  for (let i = 0; i < rowKeys.length; i += 100) {
    const actions: TransactionAction[] = rowKeys
      .slice(i, i + 100)
      .map((rowKey) => [
        'update',
        { partitionKey: eventPartition, rowKey, processedAt: at.toISOString() },
        'Merge',
      ]);
    await table.submitTransaction(actions);
  }
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
  return setAside;
}
