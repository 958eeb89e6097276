// Rows set aside: a row that storage cannot touch (a key from before keys were made URL-safe, an
// entity that cannot be written) or that keeps failing is recorded here with the reason, so the pass
// that met it moves on instead of failing on every run. The record's own key is derived (a hash of
// the original key, JSON-escaped), so any original key is safe here, in every operation.
import { createHash } from 'node:crypto';
import { storageStatus } from './conditional.js';
import { encodeKey } from './keys.js';
import { EntityTooLargeError } from './limits.js';
import { tableNames } from './tables.js';
import type { TableStore } from './tableStore.js';

export const deadLetterTable = tableNames.deadLetters;

export interface DeadLetter {
  /** The table (or queue) the row belongs to, e.g. `events`. */
  source: string;
  /** The original keys as JSON (escaped, so lone surrogates survive). */
  originalKey: string;
  /** The original row key, for callers that skip dead-lettered rows. */
  rowKey: string;
  reason: string;
  at: string;
  /** What could be kept of the row or event (at most 32 K characters). */
  payload?: string;
}

interface DeadLetterRow {
  originalKey: string;
  reason: string;
  at: string;
  payload?: string;
}

function deadLetterRowKey(partitionKey: string, rowKey: string): string {
  return createHash('sha256')
    .update(JSON.stringify([partitionKey, rowKey]))
    .digest('hex');
}

/**
 * True when retrying cannot help: the SDK cannot build the request (URIError from a key), the
 * entity cannot be stored (too large, too deep), or storage refuses the request itself (400).
 * Outages (no answer, 5xx, 503, timeouts) are not poison: they pass.
 */
export function isPoisonError(err: unknown): boolean {
  if (err instanceof URIError || err instanceof EntityTooLargeError || err instanceof RangeError)
    return true;
  const status = storageStatus(err);
  return status === 400 || status === 413;
}

/** Record a row as set aside (upsert: recording twice is harmless). */
export async function deadLetterRow(
  tables: TableStore,
  source: string,
  key: { partitionKey: string; rowKey: string },
  reason: string,
  at: Date,
  payload?: string,
): Promise<void> {
  const table = await tables.table(deadLetterTable);
  await table.upsertEntity<DeadLetterRow>(
    {
      partitionKey: encodeKey(source),
      rowKey: deadLetterRowKey(key.partitionKey, key.rowKey),
      originalKey: JSON.stringify(key),
      reason: reason.slice(0, 4000),
      at: at.toISOString(),
      ...(payload !== undefined ? { payload: payload.slice(0, 32 * 1024) } : {}),
    },
    'Replace',
  );
}

/** Every dead letter of one source (a small partition: only rows that were set aside). */
export async function listDeadLetters(tables: TableStore, source: string): Promise<DeadLetter[]> {
  const table = await tables.table(deadLetterTable);
  const { odata } = await import('@azure/data-tables');
  const out: DeadLetter[] = [];
  for await (const row of table.listEntities<DeadLetterRow>({
    queryOptions: { filter: odata`PartitionKey eq ${encodeKey(source)}` },
  })) {
    let rowKey = '';
    try {
      rowKey = (JSON.parse(row.originalKey) as { rowKey: string }).rowKey;
    } catch {
      // A record we cannot read back still counts; it just matches no row.
    }
    out.push({
      source,
      originalKey: row.originalKey,
      rowKey,
      reason: row.reason,
      at: row.at,
      ...(row.payload !== undefined ? { payload: row.payload } : {}),
    });
  }
  return out;
}
