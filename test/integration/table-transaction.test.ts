// Transactions sent on the table client's own pipeline (shared/storage/transaction.ts) do what the
// SDK's submitTransaction does: all or nothing, and a refusal is a storage error with its status.
import { describe, expect, it } from 'vitest';
import { storageStatus } from '../../shared/storage/conditional.js';
import { submitBatch } from '../../shared/storage/transaction.js';
import { tableStoreForTest } from '../helpers/storage.js';

describe('submitBatch', () => {
  it('inserts rows, merges into them, and counts one request per transaction', async () => {
    const tables = tableStoreForTest();
    const table = await tables.table('batch');
    tables.roundTrips.reset();
    const keys = ['0001', "it's", 'a b+c', 'x%41é'];
    const created = await submitBatch(
      table,
      keys.map((rowKey) => ({
        kind: 'create',
        entity: { partitionKey: 'p', rowKey, v: `"${rowKey}"` },
      })),
    );
    expect(created.etags).toHaveLength(4);
    expect(created.etags.every((e) => typeof e === 'string' && e.startsWith('W/'))).toBe(true);
    await submitBatch(
      table,
      keys.map((rowKey) => ({ kind: 'merge', entity: { partitionKey: 'p', rowKey, done: 'yes' } })),
    );
    expect(tables.roundTrips.count).toBe(2);
    for (const rowKey of keys) {
      const row = await table.getEntity<{ v: string; done: string }>('p', rowKey);
      expect(row.v).toBe(`"${rowKey}"`);
      expect(row.done).toBe('yes');
    }
  });

  it('is all or nothing: a row that exists refuses the whole transaction with 409', async () => {
    const tables = tableStoreForTest();
    const table = await tables.table('batch');
    await table.createEntity({ partitionKey: 'p', rowKey: 'b', v: 'old' });
    const err = await submitBatch(table, [
      { kind: 'create', entity: { partitionKey: 'p', rowKey: 'a', v: 'new' } },
      { kind: 'create', entity: { partitionKey: 'p', rowKey: 'b', v: 'new' } },
    ]).catch((e: unknown) => e);
    expect(storageStatus(err)).toBe(409);
    expect((err as { code?: string }).code).toBe('EntityAlreadyExists');
    expect((err as Error).message).toMatch(/^1:/);
    await expect(table.getEntity('p', 'a')).rejects.toMatchObject({ statusCode: 404 });
    expect((await table.getEntity<{ v: string }>('p', 'b')).v).toBe('old');
  });

  it('a merge into a row that is not there is refused with 404', async () => {
    const tables = tableStoreForTest();
    const table = await tables.table('batch');
    const err = await submitBatch(table, [
      { kind: 'merge', entity: { partitionKey: 'p', rowKey: 'missing', done: 'yes' } },
    ]).catch((e: unknown) => e);
    expect(storageStatus(err)).toBe(404);
  });
});
