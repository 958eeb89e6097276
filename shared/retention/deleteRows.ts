// Delete rows in transactions of at most 100 per partition (Table Storage's batch limit).
import type { TableClient, TransactionAction } from '@azure/data-tables';
import { storageStatus } from '../storage/conditional.js';

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
