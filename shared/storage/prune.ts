// Pruning, the storage side: each store deletes its own rows past a time (`prune(before, budget)`),
// under one budget per pass, so a status poll stays short; shared/retention decides when and how far
// back, and shared/app lists the stores' pruners in their order.
import type { TableClient, TransactionAction } from '@azure/data-tables';
import { storageStatus } from './conditional.js';
import type { TableStore } from './tableStore.js';
import { claimsTable } from './tables.js';

/** What one prune pass may still do: delete so many rows and read so many. */
export class PruneBudget {
  deleted = 0;
  examined = 0;

  constructor(
    readonly maxDeletes: number,
    readonly maxExamined: number,
  ) {}

  get deletesLeft(): number {
    return Math.max(0, this.maxDeletes - this.deleted);
  }

  get exhausted(): boolean {
    return this.deletesLeft === 0 || this.examined >= this.maxExamined;
  }
}

export type Row = Record<string, unknown> & {
  partitionKey?: string;
  rowKey?: string;
  etag?: string;
};

export interface Candidates {
  rows: Row[];
  /** True when the query was read to its end; false when the budget stopped it (more may remain). */
  complete: boolean;
}

/**
 * Rows matching `filter` that `keep` does not keep, read until the query ends or the budget is spent.
 * Each row read counts as examined; the rows returned are at most the deletes left.
 */
export async function findCandidates(
  client: TableClient,
  query: { filter: string; select?: string[] },
  budget: PruneBudget,
  keep: (row: Row) => boolean = () => false,
): Promise<Candidates> {
  const rows: Row[] = [];
  if (budget.exhausted) return { rows, complete: false };
  const select = query.select ? ['PartitionKey', 'RowKey', ...query.select] : undefined;
  for await (const row of client.listEntities<Row>({
    queryOptions: { filter: query.filter, ...(select ? { select } : {}) },
  })) {
    budget.examined += 1;
    if (!keep(row)) rows.push(row);
    if (rows.length >= budget.deletesLeft || budget.examined >= budget.maxExamined)
      return { rows, complete: false };
  }
  return { rows, complete: true };
}

/** What a store's prune did. */
export interface PruneResult {
  deleted: number;
  /** False when the budget ran out before the store had looked at everything it could delete. */
  complete: boolean;
}

/** A store's pruning: delete its rows older than `before` (its own notion of "older"), within `budget`. */
export type Prune = (before: Date, budget: PruneBudget) => Promise<PruneResult>;

/**
 * Delete the rows of `client` matching `filter` that `keep` does not keep, within the budget: the
 * common case of a store's prune.
 */
export async function pruneMatching(
  client: TableClient,
  query: { filter: string; select?: string[] },
  budget: PruneBudget,
  keep?: (row: Row) => boolean,
): Promise<PruneResult> {
  const found = await findCandidates(client, query, budget, keep);
  const deleted = await deleteRows(client, found.rows.map(keyOf));
  budget.deleted += found.rows.length;
  return { deleted, complete: found.complete };
}

// Delete rows in transactions of at most 100 per partition (Table Storage's batch limit).
/** Table Storage takes at most 100 operations in one transaction, all in one partition. */
export const maxRowsPerTransaction = 100;

/**
 * Delete every (partitionKey, rowKey); returns how many were deleted by this call. A transaction
 * fails as a whole when one of its rows is already gone (another instance pruned it), so that
 * batch is then deleted row by row and rows already gone are skipped.
 */
export async function deleteRows(
  client: TableClient,
  keys: readonly { partitionKey: string; rowKey: string }[],
): Promise<number> {
  const byPartition = new Map<string, string[]>();
  for (const { partitionKey, rowKey } of keys) {
    const list = byPartition.get(partitionKey) ?? [];
    list.push(rowKey);
    byPartition.set(partitionKey, list);
  }
  let deleted = 0;
  for (const [partitionKey, rowKeys] of byPartition) {
    for (let i = 0; i < rowKeys.length; i += maxRowsPerTransaction) {
      const batch = rowKeys.slice(i, i + maxRowsPerTransaction);
      try {
        if (batch.length === 1) await client.deleteEntity(partitionKey, batch[0] ?? '');
        else
          await client.submitTransaction(
            batch.map((rowKey): TransactionAction => ['delete', { partitionKey, rowKey }]),
          );
        deleted += batch.length;
      } catch (err) {
        if (batch.length === 1 && storageStatus(err) === 404) continue;
        deleted += await deleteOneByOne(client, partitionKey, batch);
      }
    }
  }
  return deleted;
}

async function deleteOneByOne(
  client: TableClient,
  partitionKey: string,
  rowKeys: readonly string[],
): Promise<number> {
  let deleted = 0;
  for (const rowKey of rowKeys) {
    try {
      await client.deleteEntity(partitionKey, rowKey);
      deleted += 1;
    } catch (err) {
      if (storageStatus(err) !== 404) throw err;
    }
  }
  return deleted;
}

/** The keys of a listed row. */
export function keyOf(row: { partitionKey?: string; rowKey?: string }): {
  partitionKey: string;
  rowKey: string;
} {
  return { partitionKey: row.partitionKey ?? '', rowKey: row.rowKey ?? '' };
}

/**
 * Day claims (row key YYYY-MM-DD) of one partition of the claims table from before `before`'s day:
 * the daily report's days, the daily prunes' claims. Each owner names its partition.
 */
export async function pruneDayClaims(
  tables: TableStore,
  partition: string,
  before: Date,
  budget: PruneBudget,
): Promise<PruneResult> {
  const { odata } = await import('@azure/data-tables');
  const beforeDay = before.toISOString().slice(0, 10);
  return pruneMatching(
    await tables.table(claimsTable),
    { filter: odata`PartitionKey eq ${partition} and RowKey lt ${beforeDay}`, select: [] },
    budget,
  );
}
