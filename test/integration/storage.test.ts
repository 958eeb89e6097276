import { describe, expect, it } from 'vitest';
import {
  claimOnce,
  createIfAbsent,
  deleteIfMatch,
  getOrUndefined,
  listPartition,
  updateIfMatch,
} from '../../shared/storage/conditional.js';
import { decodeKey, encodeKey, maxKeyLength } from '../../shared/storage/keys.js';
import { EntityTooLargeError } from '../../shared/storage/limits.js';
import { tableStoreForTest } from '../helpers/storage.js';

describe('table storage helpers (Azurite)', () => {
  const store = tableStoreForTest();

  it('claims a row once: the second create is a typed "exists", not an exception', async () => {
    const table = await store.table('claims');
    const first = await createIfAbsent(table, {
      partitionKey: 'report',
      rowKey: '2026-11-20',
      by: 'a',
    });
    const second = await createIfAbsent(table, {
      partitionKey: 'report',
      rowKey: '2026-11-20',
      by: 'b',
    });
    expect(first.ok).toBe(true);
    expect(second).toEqual({ ok: false, reason: 'exists' });
    const row = await getOrUndefined<{ by: string }>(table, 'report', '2026-11-20');
    expect(row?.by).toBe('a');
  });

  it('claimOnce: of ten claims at once exactly one is mine; the others read who has it', async () => {
    const table = await store.table('claims');
    const key = { partitionKey: 'slot', rowKey: '2026-12-02T09:00' };
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, i) => claimOnce(table, key, { by: `instance-${i}` })),
    );
    const mine = outcomes.flatMap((o, i) => (o.mine ? [i] : []));
    expect(mine).toHaveLength(1);
    const winner = `instance-${mine[0] ?? -1}`;
    for (const o of outcomes) {
      if (o.mine) continue;
      expect(o.holder?.by).toBe(winner);
      expect(o.holder?.etag).toMatch(/\S/);
    }
    // Without reading the holder: one request, and it only says "not mine".
    expect(await claimOnce(table, key, { by: 'late' }, { readHolder: false })).toEqual({
      mine: false,
      holder: undefined,
    });
    // The holder's ETag takes a stale claim over once: a second taker with the same ETag loses.
    const holder = outcomes.find((o) => !o.mine);
    if (!holder || holder.mine || !holder.holder) throw new Error('no holder read');
    const taken = await updateIfMatch(table, { ...key, by: 'taker-1' }, holder.holder.etag);
    const lost = await updateIfMatch(table, { ...key, by: 'taker-2' }, holder.holder.etag);
    expect([taken.ok, lost.ok]).toEqual([true, false]);
  });

  it('updates only with a current ETag; a stale one is a typed "conflict" and nothing is overwritten', async () => {
    const table = await store.table('claims');
    const created = await createIfAbsent(table, { partitionKey: 'p', rowKey: 'r', n: 1 });
    if (!created.ok) throw new Error('create failed');
    const won = await updateIfMatch(table, { partitionKey: 'p', rowKey: 'r', n: 2 }, created.etag);
    const lost = await updateIfMatch(table, { partitionKey: 'p', rowKey: 'r', n: 3 }, created.etag);
    expect(won.ok).toBe(true);
    expect(lost).toEqual({ ok: false, reason: 'conflict' });
    expect((await getOrUndefined<{ n: number }>(table, 'p', 'r'))?.n).toBe(2);
    const gone = await updateIfMatch(table, { partitionKey: 'p', rowKey: 'missing', n: 1 }, '*');
    expect(gone).toEqual({ ok: false, reason: 'missing' });
    if (!won.ok) throw new Error('update failed');
    expect(await deleteIfMatch(table, 'p', 'r', created.etag)).toEqual({
      ok: false,
      reason: 'conflict',
    });
    expect((await deleteIfMatch(table, 'p', 'r', won.etag)).ok).toBe(true);
  });

  it('stores names with forbidden key characters and reads them back', async () => {
    const table = await store.table('keys');
    const names = [
      'web/api',
      'back\\slash',
      'hash#tag',
      'what?',
      'tab\there',
      'per%cent',
      "it's ok",
    ];
    for (const name of names) {
      expect(
        (await createIfAbsent(table, { partitionKey: encodeKey(name), rowKey: 'x', name })).ok,
      ).toBe(true);
      expect(decodeKey(encodeKey(name))).toBe(name);
    }
    const long = 'x'.repeat(2000);
    expect(encodeKey(long).length).toBeLessThanOrEqual(maxKeyLength);
    expect(encodeKey(long)).not.toBe(encodeKey(`${long}y`));
    expect((await createIfAbsent(table, { partitionKey: encodeKey(long), rowKey: 'x' })).ok).toBe(
      true,
    );
  });

  it('refuses entities Azure would refuse, even though Azurite accepts them', async () => {
    const table = await store.table('limits');
    await expect(
      createIfAbsent(table, { partitionKey: 'p', rowKey: 'big', text: 'x'.repeat(32 * 1024 + 1) }),
    ).rejects.toThrow(EntityTooLargeError);
    const wide: Record<string, string> & { partitionKey: string; rowKey: string } = {
      partitionKey: 'p',
      rowKey: 'wide',
    };
    for (let i = 0; i < 40; i++) wide[`p${i}`] = 'y'.repeat(30_000);
    await expect(createIfAbsent(table, wide)).rejects.toThrow(/bytes/);
  });

  it('lists a whole partition across pages (the service returns at most 1000 rows a page) and counts round trips', async () => {
    const table = await store.table('pages');
    for (let batch = 0; batch < 11; batch++) {
      const rows = Array.from({ length: 100 }, (_, i) => String(batch * 100 + i).padStart(4, '0'));
      await table.submitTransaction(
        rows.map((rowKey) => ['create', { partitionKey: 'many', rowKey }]),
      );
    }
    await createIfAbsent(table, { partitionKey: 'other', rowKey: 'x' });
    store.roundTrips.reset();
    const rows = await listPartition(table, 'many');
    expect(rows).toHaveLength(1100);
    expect(new Set(rows.map((r) => r.rowKey)).size).toBe(1100);
    expect(store.roundTrips.count).toBe(2);
  });
});
