// Conditional writes on Table Storage with typed outcomes: 409/412/404 are results, not exceptions.
import type { TableClient, TableEntity, TableEntityResult } from '@azure/data-tables';
import { assertEntityFits } from './limits.js';

export type WriteOutcome =
  | { ok: true; etag: string; date: Date | undefined }
  | { ok: false; reason: 'exists' | 'conflict' | 'missing' };

/** The HTTP status of a storage error, or undefined when it is not one. */
export function storageStatus(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'statusCode' in err) {
    const status = (err as { statusCode: unknown }).statusCode;
    return typeof status === 'number' ? status : undefined;
  }
  return undefined;
}

/** A refused conditional write as its outcome (409 exists, 412 conflict, 404 missing); anything else is thrown. */
export function outcomeFor(err: unknown): WriteOutcome {
  switch (storageStatus(err)) {
    case 409:
      return { ok: false, reason: 'exists' };
    case 412:
      return { ok: false, reason: 'conflict' };
    case 404:
      return { ok: false, reason: 'missing' };
    default:
      throw err;
  }
}

/** A write storage answered with success. */
export function written(response: {
  etag?: string | undefined;
  date?: Date | undefined;
}): WriteOutcome {
  return { ok: true, etag: response.etag ?? '*', date: response.date };
}

/** Insert a row only if it does not exist yet: the claim of a slot, an event id, an intent. */
export async function createIfAbsent<T extends object>(
  client: TableClient,
  entity: TableEntity<T>,
): Promise<WriteOutcome> {
  assertEntityFits(client.tableName, entity as Record<string, unknown>);
  try {
    return written(await client.createEntity(entity));
  } catch (err) {
    return outcomeFor(err);
  }
}

/** Replace (or merge) a row only if it is unchanged since it was read with `etag`. */
export async function updateIfMatch<T extends object>(
  client: TableClient,
  entity: TableEntity<T>,
  etag: string,
  mode: 'Replace' | 'Merge' = 'Replace',
): Promise<WriteOutcome> {
  assertEntityFits(client.tableName, entity as Record<string, unknown>);
  try {
    return written(await client.updateEntity(entity, mode, { etag }));
  } catch (err) {
    return outcomeFor(err);
  }
}

/** Delete a row only if it is unchanged since it was read with `etag`. */
export async function deleteIfMatch(
  client: TableClient,
  partitionKey: string,
  rowKey: string,
  etag: string,
): Promise<WriteOutcome> {
  try {
    return written(await client.deleteEntity(partitionKey, rowKey, { etag }));
  } catch (err) {
    return outcomeFor(err);
  }
}

/** Read a row, or undefined if it does not exist. */
export async function getOrUndefined<T extends object>(
  client: TableClient,
  partitionKey: string,
  rowKey: string,
): Promise<TableEntityResult<T> | undefined> {
  try {
    return await client.getEntity<T>(partitionKey, rowKey);
  } catch (err) {
    if (storageStatus(err) === 404) return undefined;
    throw err;
  }
}

/** Every row of one partition (the SDK pages; this loops over short and empty pages). */
export async function listPartition<T extends object>(
  client: TableClient,
  partitionKey: string,
): Promise<TableEntityResult<T>[]> {
  const { odata } = await import('@azure/data-tables');
  const rows: TableEntityResult<T>[] = [];
  for await (const row of client.listEntities<T>({
    queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` },
  })) {
    rows.push(row);
  }
  return rows;
}

/** Who has a claim: the row as stored, with its ETag for a later conditional takeover. */
export type ClaimHolder<T> = T & { etag: string };

/**
 * The outcome of claimOnce: `mine` (this call inserted the row; `etag` for recording the outcome),
 * or somebody else's, with the row that says who and how far they got (`holder` is undefined when
 * the row was deleted between the refused insert and the read, or when `readHolder` is false).
 */
export type ClaimOutcome<T> =
  { mine: true; etag: string } | { mine: false; holder: ClaimHolder<T> | undefined };

/**
 * Claim something once across instances: insert `row` under `key` only if no row is there (the
 * daily report of a day, a watch email, a promotion slot, an ensure-deployed target, a day's prune).
 * A refused insert is not an error: it reads who has the claim (one more request), unless the caller
 * only needs to know it lost (`readHolder: false`). What to do with a stale or finished claim is the
 * caller's decision; take it over with updateIfMatch and the holder's ETag, so two takers cannot both
 * win.
 */
export async function claimOnce<T extends object>(
  client: TableClient,
  key: { partitionKey: string; rowKey: string },
  row: T,
  options: { readHolder?: boolean } = {},
): Promise<ClaimOutcome<T>> {
  const created = await createIfAbsent(client, { ...row, ...key });
  if (created.ok) return { mine: true, etag: created.etag };
  if (created.reason !== 'exists') throw new Error(`claimOnce: unexpected ${created.reason}`);
  if (options.readHolder === false) return { mine: false, holder: undefined };
  const existing = await getOrUndefined<T>(client, key.partitionKey, key.rowKey);
  if (!existing) return { mine: false, holder: undefined };
  return { mine: false, holder: { ...(existing as T), etag: existing.etag ?? '*' } };
}
