// Locks at scale and locks people manage, against Azurite: joining without a shared write, bounded
// polls, history outside the lock's partition, waiter TTLs per place, force-release, pools, deadlocks.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { isLockError } from '../../shared/locks/errors.js';
import { LeaseLocks, type AcquireResult, type Grant } from '../../shared/locks/leaseLock.js';
import { LockReadStats } from '../../shared/locks/snapshot.js';
import { LockWakeups } from '../../shared/locks/wakeups.js';
import { encodeKey } from '../../shared/storage/keys.js';
import { tableStoreForTest } from '../helpers/storage.js';

function granted(result: AcquireResult): Grant {
  if (!result.granted) throw new Error(`expected a grant, got ${JSON.stringify(result)}`);
  return result;
}

function locksOn(
  prefix?: string,
  extra: Partial<ConstructorParameters<typeof LeaseLocks>[0]> = {},
) {
  const store = tableStoreForTest(prefix);
  return {
    store,
    locks: new LeaseLocks({
      table: () => store.table('locks'),
      historyTable: () => store.table('lockhistory'),
      ...extra,
    }),
  };
}

describe('queues that cost O(permits)', () => {
  it('joining writes only the newcomer’s own rows: the lock row is untouched by 20 joins', async () => {
    const { store, locks } = locksOn();
    granted(await locks.acquire('q', { holder: 'H', ttlSeconds: 120 }));
    const table = await store.table('locks');
    const before = await table.getEntity(encodeKey('q'), 'a-lock');
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        locks.acquire('q', { holder: `w${i}`, requestId: `w${i}` }),
      ),
    );
    const after = await table.getEntity(encodeKey('q'), 'a-lock');
    // Before: each join rewrote the lock row's ticket counter with If-Match (and fought over it).
    expect(after.etag).toBe(before.etag);
    const view = await locks.inspect('q');
    expect(view?.waiters).toHaveLength(20);
    expect(view?.waiters.map((w) => w.position)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
  });

  it('a poll reads at most permits + 2 rows wherever the caller is in a queue of 60', async () => {
    const stats = new LockReadStats();
    const { locks } = locksOn(undefined, { stats });
    granted(await locks.acquire('p', { holder: 'H', ttlSeconds: 120 }));
    for (let i = 0; i < 60; i++) await locks.acquire('p', { holder: `w${i}`, requestId: `w${i}` });
    for (const i of [0, 1, 30, 59]) {
      stats.reset();
      const polled = await locks.poll('p', { holder: `w${i}`, requestId: `w${i}` });
      expect(polled).toMatchObject({ granted: false, queued: true });
      // Before: every poll read the lock row, every holder and every waiter (62 rows here).
      expect(stats.reset().rows).toBeLessThanOrEqual(3);
    }
    // The exact position is still given when an answer leaves the call.
    expect(await locks.acquire('p', { holder: 'w30', requestId: 'w30' })).toMatchObject({
      position: 31,
    });
  });

  it('keeps history out of the lock’s partition', async () => {
    const { store, locks } = locksOn();
    for (let i = 0; i < 5; i++) {
      const g = granted(await locks.acquire('h', { holder: `H${i}` }));
      await locks.release('h', g.leaseId);
    }
    const table = await store.table('locks');
    const keys: string[] = [];
    for await (const row of table.listEntities({
      queryOptions: { filter: `PartitionKey eq '${encodeKey('h')}'` },
    }))
      keys.push(row.rowKey ?? '');
    // The lock row and the five leases' tombstones (what a late renew or release is told); no history.
    expect(keys.filter((k) => k.startsWith('h-'))).toEqual([]);
    expect((await locks.history('h')).map((g) => [g.fence, g.state])).toEqual(
      [1, 2, 3, 4, 5].map((f) => [f, 'released']),
    );
  });

  it('a place lapses by its own row’s TTL: a 60 s place outlives a reader whose default is 1 s', async () => {
    const prefix = `ttl${Date.now() % 100000}`;
    // Queued runs keep places for 900 s; the HTTP API's callers for 30 s. Both on one lock.
    const slow = locksOn(prefix, { waiterTtlSeconds: 60 }).locks;
    const fast = locksOn(prefix, { waiterTtlSeconds: 1 }).locks;
    const holder = granted(await fast.acquire('group', { holder: 'run 1', ttlSeconds: 120 }));
    expect(await slow.acquire('group', { holder: 'run 2', requestId: 'run-2' })).toMatchObject({
      position: 1,
    });
    await sleep(2500);
    await fast.release('group', holder.leaseId);
    // Before: the fast instance judged the run's place by its own 1 s and gave the lock away.
    expect(await fast.acquire('group', { holder: 'api caller', requestId: 'api' })).toMatchObject({
      granted: false,
      position: 2,
    });
    expect(
      granted(await slow.acquire('group', { holder: 'run 2', requestId: 'run-2' })).fence,
    ).toBe(2);
  });
});

describe('force-release', () => {
  it('frees every lease while the holder renews; its next renew and release get who and why; fences go on', async () => {
    const { locks } = locksOn();
    const a = granted(await locks.acquire('db', { holder: 'A', ttlSeconds: 30, permits: 2 }));
    const b = granted(await locks.acquire('db', { holder: 'B', ttlSeconds: 30 }));
    let renewing = true;
    let renewals = 0;
    const renewer = (async () => {
      while (renewing) {
        try {
          await locks.renew('db', a.leaseId);
          renewals += 1;
        } catch (err) {
          return err;
        }
        await sleep(5);
      }
      return undefined;
    })();
    await sleep(100);
    const forced = await locks.forceRelease('db', { by: 'ops: alice', reason: 'stuck deploy' });
    expect(forced?.released.map((r) => r.fence).sort()).toEqual([1, 2]);
    const stopped = await renewer;
    renewing = false;
    expect(renewals).toBeGreaterThan(0);
    expect(isLockError(stopped, 'not_holder')).toBe(true);
    expect((stopped as Error).message).toMatch(
      /force-released by ops: alice.*reason: stuck deploy/,
    );
    await expect(locks.release('db', b.leaseId)).rejects.toThrow(/force-released by ops: alice/);
    const next = granted(await locks.acquire('db', { holder: 'C' }));
    expect(next.fence).toBe(3);
    const history = await locks.history('db');
    expect(history.slice(0, 2).map((g) => [g.state, g.forcedBy, g.reason])).toEqual([
      ['forced', 'ops: alice', 'stuck deploy'],
      ['forced', 'ops: alice', 'stuck deploy'],
    ]);
    expect((await locks.checkOverlaps('db')).overlaps).toEqual([]);
    expect(await locks.forceRelease('never used', { by: 'x', reason: 'y' })).toBeUndefined();
  });

  it('with a fence, frees only the leases granted up to it: asked again after a lost answer, it spares the lease granted since', async () => {
    const { locks } = locksOn();
    const a = granted(await locks.acquire('mig', { holder: 'A', ttlSeconds: 30, permits: 2 }));
    const b = granted(await locks.acquire('mig', { holder: 'B', ttlSeconds: 30, permits: 2 }));
    expect([a.fence, b.fence]).toEqual([1, 2]);
    // The operator saw A (fence 1) hang, and frees it; B, granted after, goes on.
    const first = await locks.forceRelease('mig', { by: 'ops: bob', reason: 'A hangs', fence: 1 });
    expect(first?.released.map((r) => r.holder)).toEqual(['A']);
    expect(first?.kept).toEqual([{ holder: 'B', fence: 2 }]);
    // The answer was lost; meanwhile C takes the freed permit. The operator asks again.
    const c = granted(await locks.acquire('mig', { holder: 'C', ttlSeconds: 30, permits: 2 }));
    const again = await locks.forceRelease('mig', { by: 'ops: bob', reason: 'A hangs', fence: 1 });
    expect(again?.released).toEqual([]);
    expect(again?.kept?.map((k) => k.holder).sort()).toEqual(['B', 'C']);
    await locks.renew('mig', b.leaseId);
    await locks.renew('mig', c.leaseId);
    await expect(locks.renew('mig', a.leaseId)).rejects.toThrow(/force-released by ops: bob/);
    expect((await locks.checkOverlaps('mig')).overlaps).toEqual([]);
  });
});

describe('pools', () => {
  it('twelve callers on a pool of three locks: one lock each at a time, none overlapping, each served once', async () => {
    const prefix = `pool${Date.now() % 100000}`;
    const wakeups = new LockWakeups();
    const instances = [
      locksOn(prefix, { wakeups }).locks,
      locksOn(prefix, { wakeups }).locks,
      locksOn(prefix).locks, // another instance: learns of releases by polling
    ];
    const pool = ['db-1', 'db-2', 'db-3'];
    const intervals: { lock: string; from: number; to: number }[] = [];
    await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const locks = instances[i % instances.length] as LeaseLocks;
        const result = await locks.acquireAnyWaiting(
          pool,
          { holder: `caller ${i}`, requestId: `caller-${i}`, ttlSeconds: 60 },
          { waitMs: 60_000 },
        );
        const grant = granted(result);
        expect(pool).toContain(grant.lock);
        // A retried request gets the same lease, not a second one.
        expect(
          granted(
            await locks.acquireAny(pool, { holder: `caller ${i}`, requestId: `caller-${i}` }),
          ),
        ).toMatchObject({ leaseId: grant.leaseId, lock: grant.lock, reused: true });
        const from = performance.now();
        await sleep(30);
        intervals.push({ lock: grant.lock, from, to: performance.now() });
        await locks.release(grant.lock, grant.leaseId);
      }),
    );
    expect(intervals).toHaveLength(12);
    for (const lock of pool) {
      const mine = intervals.filter((x) => x.lock === lock).sort((x, y) => x.from - y.from);
      for (let k = 1; k < mine.length; k++)
        expect(mine[k]?.from).toBeGreaterThanOrEqual(mine[k - 1]?.to ?? Infinity);
      const report = await instances[0]?.checkOverlaps(lock);
      expect(report?.overlaps).toEqual([]);
    }
    // The pool's queue is empty again.
    expect(
      await instances[0]?.acquireAny(pool, { holder: 'late', requestId: 'late', queue: false }),
    ).toMatchObject({ granted: true });
  });
});

describe('deadlock warnings', () => {
  it('names two task-bound holders that each wait for the lock the other holds', async () => {
    const { locks } = locksOn();
    granted(await locks.acquire('X', { holder: 'deploy A', octopusTaskId: 'ServerTasks-1' }));
    granted(await locks.acquire('Y', { holder: 'deploy B', octopusTaskId: 'ServerTasks-2' }));
    expect(await locks.deadlocks()).toEqual([]);
    await locks.acquire('Y', {
      holder: 'deploy A',
      octopusTaskId: 'ServerTasks-1',
      requestId: 'a',
    });
    expect(await locks.deadlocks()).toEqual([]);
    await locks.acquire('X', {
      holder: 'deploy B',
      octopusTaskId: 'ServerTasks-2',
      requestId: 'b',
    });
    const found = await locks.deadlocks();
    expect(found).toHaveLength(1);
    expect([...(found[0]?.tasks ?? [])].sort()).toEqual(['ServerTasks-1', 'ServerTasks-2']);
    expect(found[0]?.message).toMatch(/ServerTasks-1 waits for "Y", held by ServerTasks-2/);
  });
});
