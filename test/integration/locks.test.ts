// The lock module against real Table Storage (Azurite): grants, queues, permits, expiry, strangers, lost responses.
import { describe, expect, it } from 'vitest';
import {
  LeaseLocks,
  type AcquireResult,
  type Grant,
  type NotGranted,
} from '../../shared/locks/leaseLock.js';
import { LeaseLostError, isLockError } from '../../shared/locks/errors.js';
import { fencedWrite } from '../../shared/locks/fencedWrite.js';
import { findOverlaps } from '../../shared/locks/history.js';
import { runUnderLease } from '../../shared/locks/jobLock.js';
import { locksForTest, lossyTable } from '../helpers/locks.js';
import { tableStoreForTest } from '../helpers/storage.js';

function granted(result: AcquireResult): Grant {
  if (!result.granted) throw new Error(`expected a grant, got ${JSON.stringify(result)}`);
  return result;
}

function waiting(result: AcquireResult): NotGranted {
  if (result.granted) throw new Error(`expected to wait, got ${JSON.stringify(result)}`);
  return result;
}

async function lockError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (isLockError(err)) return err.code;
    throw err;
  }
  throw new Error('expected a LockError');
}

describe('a mutex', () => {
  it('grants one holder, queues the next, and hands over on release with a higher fence', async () => {
    const locks = locksForTest();
    const a = granted(await locks.acquire('deploy/web01 step b', { holder: 'A' }));
    expect(a.fence).toBe(1);
    const b = await locks.acquire('deploy/web01 step b', { holder: 'B' });
    expect(b).toMatchObject({ granted: false, queued: true, position: 1, heldBy: ['A'] });
    await locks.release('deploy/web01 step b', a.leaseId);
    const b2 = granted(await locks.acquire('deploy/web01 step b', { holder: 'B' }));
    expect(b2.fence).toBe(2);
    const view = await locks.inspect('deploy/web01 step b');
    expect(view?.holders.map((h) => h.holder)).toEqual(['B']);
    expect(view?.waiters).toEqual([]);
  });

  it('a try-lock is refused without taking a place in the queue', async () => {
    const locks = locksForTest();
    granted(await locks.acquire('m', { holder: 'A' }));
    const b = await locks.acquire('m', { holder: 'B', queue: false });
    expect(b).toMatchObject({ granted: false, queued: false, position: null });
    expect((await locks.inspect('m'))?.waiters).toEqual([]);
  });

  it('a repeated acquire by the same holder returns its lease instead of a second one', async () => {
    const locks = locksForTest();
    const first = granted(await locks.acquire('m', { holder: 'A' }));
    const again = granted(await locks.acquire('m', { holder: 'A' }));
    expect(again).toMatchObject({ leaseId: first.leaseId, fence: first.fence, reused: true });
  });

  it('works with names of any characters', async () => {
    const locks = locksForTest();
    const name = "db/#1?\\ 'quoted' %41 ✓";
    granted(await locks.acquire(name, { holder: 'A' }));
    expect((await locks.inspect(name))?.name).toBe(name);
    expect((await locks.list()).map((l) => l.name)).toEqual([name]);
  });
});

describe('a semaphore', () => {
  it('grants up to N holders and explains why the others wait', async () => {
    const locks = locksForTest();
    for (const holder of ['A', 'B', 'C'])
      granted(await locks.acquire('pool', { holder, permits: 3 }));
    const d = await locks.acquire('pool', { holder: 'D', permits: 3 });
    const e = await locks.acquire('pool', { holder: 'E' });
    expect(d).toMatchObject({ granted: false, position: 1 });
    expect(e).toMatchObject({ granted: false, position: 2 });
    const view = await locks.inspect('pool');
    expect(view?.permits).toBe(3);
    expect(view?.holders.map((h) => h.fence)).toEqual([1, 2, 3]);
    expect(view?.waiters.map((w) => [w.position, w.holder])).toEqual([
      [1, 'D'],
      [2, 'E'],
    ]);
    expect(view?.waiters[0]?.why).toMatch(/3 of 3 permit\(s\) held by A, B, C; it is next in line/);
    expect(view?.waiters[1]?.why).toMatch(/1 waiter\(s\) ahead/);
  });

  it('refuses a different number of permits while in use, and accepts it when idle', async () => {
    const locks = locksForTest();
    const a = granted(await locks.acquire('pool', { holder: 'A', permits: 2 }));
    expect(await lockError(locks.acquire('pool', { holder: 'B', permits: 3 }))).toBe(
      'permits_mismatch',
    );
    await locks.release('pool', a.leaseId);
    granted(await locks.acquire('pool', { holder: 'B', permits: 3 }));
    expect((await locks.inspect('pool'))?.permits).toBe(3);
  });
});

describe('FIFO waiting', () => {
  it('serves waiters in arrival order, priorities first, and never lets a newcomer jump a waiter', async () => {
    const locks = locksForTest();
    const holder = granted(await locks.acquire('q', { holder: 'H' }));
    expect(await locks.acquire('q', { holder: 'W1' })).toMatchObject({ position: 1 });
    expect(await locks.acquire('q', { holder: 'W2' })).toMatchObject({ position: 2 });
    expect(await locks.acquire('q', { holder: 'URGENT', priority: 5 })).toMatchObject({
      position: 1,
    });
    await locks.release('q', holder.leaseId);
    // The permit is free, but it belongs to the first in line.
    expect(await locks.acquire('q', { holder: 'W2' })).toMatchObject({
      granted: false,
      position: 3,
    });
    expect(await locks.acquire('q', { holder: 'LATE', queue: false })).toMatchObject({
      granted: false,
    });
    const urgent = granted(await locks.acquire('q', { holder: 'URGENT' }));
    await locks.release('q', urgent.leaseId);
    expect(await locks.acquire('q', { holder: 'W2' })).toMatchObject({
      granted: false,
      position: 2,
    });
    granted(await locks.acquire('q', { holder: 'W1' }));
  });

  it('an abandoned place expires and the next waiter is served', async () => {
    const locks = locksForTest({ waiterTtlSeconds: 1 });
    const holder = granted(await locks.acquire('q', { holder: 'H' }));
    expect(await locks.acquire('q', { holder: 'GONE' })).toMatchObject({ position: 1 });
    expect(await locks.acquire('q', { holder: 'STAYS' })).toMatchObject({ position: 2 });
    await locks.release('q', holder.leaseId);
    const served = await locks.acquireWaiting('q', { holder: 'STAYS' }, { waitMs: 5000 });
    expect(served).toMatchObject({ granted: true, holder: 'STAYS' });
  });
});

describe('leases', () => {
  it('renew and release only by the holder; a stranger and a forged lease id get not_holder', async () => {
    const locks = locksForTest();
    const a = granted(await locks.acquire('m', { holder: 'A', ttlSeconds: 30 }));
    const forged = `${a.fence}.${'0'.repeat(24)}`;
    expect(await lockError(locks.release('m', forged))).toBe('not_holder');
    expect(await lockError(locks.renew('m', forged))).toBe('not_holder');
    expect(await lockError(locks.release('m', 'not-a-lease'))).toBe('invalid_lease_id');
    expect(await lockError(locks.release('other lock', a.leaseId))).toBe('not_holder');
    const renewed = await locks.renew('m', a.leaseId, 45);
    expect(renewed.expiresAt.getTime()).toBeGreaterThan(a.expiresAt.getTime());
    expect(await locks.release('m', a.leaseId)).toEqual({
      released: true,
      fence: 1,
      alreadyReleased: false,
    });
    // A repeated release by the holder is acknowledged; nothing else is freed by it.
    expect(await locks.release('m', a.leaseId)).toMatchObject({ alreadyReleased: true });
    expect(await lockError(locks.renew('m', a.leaseId))).toBe('not_holder');
  });

  it('an unrenewed lease expires by storage time and the waiter takes over; the old holder is told', async () => {
    const locks = locksForTest();
    const a = granted(await locks.acquire('m', { holder: 'A', ttlSeconds: 1 }));
    const b = await locks.acquireWaiting('m', { holder: 'B' }, { waitMs: 8000 });
    expect(b).toMatchObject({ granted: true, fence: 2 });
    await expect(locks.renew('m', a.leaseId)).rejects.toThrow(/expired/);
    expect((await locks.history('m')).map((g) => g.state)).toEqual(['expired', 'held']);
    expect(await locks.checkOverlaps('m')).toMatchObject({
      overlaps: [],
      fenceOrderViolations: [],
    });
  });

  it('a lost grant response is retried without a second grant; a lost release response likewise', async () => {
    const table = lossyTable();
    const locks = new LeaseLocks({ table: table.client });
    table.loseNextBatchResponse();
    await expect(locks.acquire('m', { holder: 'A', requestId: 'req-1' })).rejects.toThrow(
      /socket hang up/,
    );
    const retried = granted(await locks.acquire('m', { holder: 'A', requestId: 'req-1' }));
    expect(retried).toMatchObject({ fence: 1, reused: true });
    const view = await locks.inspect('m');
    expect(view?.holders).toHaveLength(1);
    expect(view?.lastFence).toBe(1);
    table.loseNextBatchResponse();
    await expect(locks.release('m', retried.leaseId)).rejects.toThrow(/socket hang up/);
    expect(await locks.release('m', retried.leaseId)).toMatchObject({ alreadyReleased: true });
    expect((await locks.inspect('m'))?.holders).toEqual([]);
  });

  it('task-bound leases are freed when their task has ended, and only those', async () => {
    const locks = locksForTest();
    granted(
      await locks.acquire('a', { holder: 'A', octopusTaskId: 'ServerTasks-1', ttlSeconds: 3600 }),
    );
    granted(
      await locks.acquire('b', { holder: 'B', octopusTaskId: 'ServerTasks-2', ttlSeconds: 3600 }),
    );
    granted(await locks.acquire('c', { holder: 'C', ttlSeconds: 3600 }));
    expect(await locks.releaseEndedTaskLeases(new Set(['ServerTasks-1']))).toBe(1);
    expect((await locks.list()).map((l) => [l.name, l.holders])).toEqual([
      ['a', []],
      ['b', ['B']],
      ['c', ['C']],
    ]);
    const history = await locks.history('a');
    expect(history.map((g) => g.state)).toEqual(['task-ended']);
  });

  it('a waiter asking frees a lease whose task has ended, through one task lookup', async () => {
    const lookups: string[][] = [];
    const ended = new Set<string>();
    const locks = locksForTest({
      endedTasks: async (ids) => {
        lookups.push([...ids]);
        return new Set(ids.filter((id) => ended.has(id)));
      },
      taskCheckIntervalMs: 0,
    });
    granted(
      await locks.acquire('m', { holder: 'A', octopusTaskId: 'ServerTasks-7', ttlSeconds: 3600 }),
    );
    expect(await locks.acquire('m', { holder: 'B' })).toMatchObject({ granted: false });
    ended.add('ServerTasks-7');
    expect(await locks.acquire('m', { holder: 'B' })).toMatchObject({ granted: true, fence: 2 });
    // The first lookup is A's own acquire (a task already ended is never granted); then one per
    // time B asked while A held the lease.
    expect(lookups).toEqual([['ServerTasks-7'], ['ServerTasks-7'], ['ServerTasks-7']]);
  });
});

describe('which request a grant or a place belongs to', () => {
  it('a grant taken with a requestId is given back only to that requestId, never to its holder name', async () => {
    const locks = locksForTest();
    const a = granted(await locks.acquire('m', { holder: 'deploy A', requestId: 'req-a' }));
    // Same holder name, no requestId or another one: a different request, which waits.
    expect(await locks.acquire('m', { holder: 'deploy A' })).toMatchObject({
      granted: false,
      position: 1,
    });
    expect(
      await locks.acquire('m', { holder: 'deploy A', requestId: 'req-other', queue: false }),
    ).toMatchObject({ granted: false, queued: false });
    expect(
      granted(await locks.acquire('m', { holder: 'deploy A', requestId: 'req-a' })),
    ).toMatchObject({ leaseId: a.leaseId, reused: true });
  });

  it('a place taken with a requestId is kept only for that requestId', async () => {
    const locks = locksForTest();
    const a = granted(await locks.acquire('m', { holder: 'A', requestId: 'req-a' }));
    const b = waiting(await locks.acquire('m', { holder: 'B', requestId: 'req-b' }));
    expect(b.position).toBe(1);
    // Someone who read "B" in the listing gets a place of their own, behind B's.
    expect(await locks.acquire('m', { holder: 'B' })).toMatchObject({ position: 2 });
    expect(await locks.leave('m', { holder: 'B' })).toEqual({ lock: 'm', left: true });
    expect(await locks.acquire('m', { holder: 'B', requestId: 'req-b' })).toMatchObject({
      position: 1,
      ticket: b.ticket,
    });
    await locks.release('m', a.leaseId);
    expect(granted(await locks.acquire('m', { holder: 'B', requestId: 'req-b' })).fence).toBe(2);
  });

  it('a grant or place taken without a requestId keeps the holder name as its identity', async () => {
    const locks = locksForTest();
    const a = granted(await locks.acquire('m', { holder: 'A' }));
    expect(granted(await locks.acquire('m', { holder: 'A' }))).toMatchObject({
      leaseId: a.leaseId,
      reused: true,
    });
    // A requestId equal to the name is still another request.
    expect(await locks.acquire('m', { holder: 'A', requestId: 'A' })).toMatchObject({
      granted: false,
      position: 1,
    });
    const b = waiting(await locks.acquire('m', { holder: 'B' }));
    expect(await locks.acquire('m', { holder: 'B' })).toMatchObject({
      position: 2,
      ticket: b.ticket,
    });
  });

  it('a grant stored before rows said how they were keyed is still found by its retry', async () => {
    const store = tableStoreForTest();
    const locks = new LeaseLocks({ table: () => store.table('locks') });
    const a = granted(await locks.acquire('m', { holder: 'A', requestId: 'req-a' }));
    const table = await store.table('locks');
    for await (const row of table.listEntities<Record<string, unknown>>()) {
      if (!String(row.rowKey).startsWith('l-')) continue;
      // As written before `keyedBy` existed: the same row without it.
      const { keyedBy: _keyedBy, etag: _etag, timestamp: _ts, partitionKey, rowKey, ...old } = row;
      await table.updateEntity(
        { ...old, partitionKey: partitionKey ?? '', rowKey: rowKey ?? '' },
        'Replace',
      );
    }
    expect(granted(await locks.acquire('m', { holder: 'A', requestId: 'req-a' }))).toMatchObject({
      leaseId: a.leaseId,
      reused: true,
    });
  });
});

describe('leaving the queue', () => {
  it('leave by requestId frees the place at once and the next waiter moves up', async () => {
    const locks = locksForTest();
    const a = granted(await locks.acquire('m', { holder: 'A', requestId: 'req-a' }));
    await locks.acquire('m', { holder: 'B', requestId: 'req-b' });
    expect(await locks.acquire('m', { holder: 'C', requestId: 'req-c' })).toMatchObject({
      position: 2,
    });
    expect(await locks.leave('m', { requestId: 'req-b' })).toEqual({ lock: 'm', left: true });
    expect((await locks.inspect('m'))?.waiters.map((w) => w.holder)).toEqual(['C']);
    expect(await locks.acquire('m', { holder: 'C', requestId: 'req-c' })).toMatchObject({
      position: 1,
    });
    // Leaving again, or a place that never was, or a lock never used: nothing to leave.
    expect(await locks.leave('m', { requestId: 'req-b' })).toEqual({ lock: 'm', left: false });
    expect(await locks.leave('never used', { requestId: 'req-b' })).toMatchObject({ left: false });
    await locks.release('m', a.leaseId);
    expect(granted(await locks.acquire('m', { holder: 'C', requestId: 'req-c' })).fence).toBe(2);
  });

  it('a grant is not a place: leave answers holds_lease and the lease stays', async () => {
    const locks = locksForTest();
    const a = granted(await locks.acquire('m', { holder: 'A', requestId: 'req-a' }));
    expect(await lockError(locks.leave('m', { requestId: 'req-a' }))).toBe('holds_lease');
    // Its holder name alone names no place (the grant was taken with a requestId).
    expect(await locks.leave('m', { holder: 'A' })).toMatchObject({ left: false });
    expect(await locks.renew('m', a.leaseId)).toMatchObject({ fence: 1 });
  });

  it('a place taken with a requestId cannot be left by its holder name', async () => {
    const locks = locksForTest();
    granted(await locks.acquire('m', { holder: 'A' }));
    await locks.acquire('m', { holder: 'B', requestId: 'req-b' });
    expect(await locks.leave('m', { holder: 'B' })).toMatchObject({ left: false });
    expect((await locks.inspect('m'))?.waiters.map((w) => w.holder)).toEqual(['B']);
    // A grant taken without a requestId is named by its holder, and still is not a place.
    expect(await lockError(locks.leave('m', { holder: 'A' }))).toBe('holds_lease');
  });
});

describe('job locks', () => {
  it('runs the job under a fenced lease, refuses a concurrent run, and releases at the end', async () => {
    const locks = locksForTest();
    let inner: unknown;
    const outer = await runUnderLease(locks, 'job/report', 'instance-1', 30, async (lease) => {
      inner = await runUnderLease(locks, 'job/report', 'instance-2', 30, async () => 'second');
      await lease.assertHeld();
      return lease.fence;
    });
    expect(outer).toEqual({ ran: true, value: 1 });
    expect(inner).toEqual({ ran: false, heldBy: 'instance-1' });
    expect((await locks.inspect('job/report'))?.holders).toEqual([]);
  });

  it('a lost lease aborts the signal and assertHeld throws before an irreversible step', async () => {
    const store = tableStoreForTest();
    const locks = new LeaseLocks({ table: () => store.table('locks') });
    const result = await runUnderLease(locks, 'job/promote', 'instance-1', 30, async (lease) => {
      // Somebody frees the lease behind the holder's back (as a reaper would after a long pause).
      const client = await store.table('locks');
      for await (const row of client.listEntities()) {
        if (row.rowKey?.startsWith('l-'))
          await client.deleteEntity(row.partitionKey ?? '', row.rowKey);
      }
      const error = await lease.assertHeld().then(
        () => undefined,
        (err: unknown) => err,
      );
      return { error, aborted: lease.signal.aborted };
    });
    expect(result.ran).toBe(true);
    if (result.ran) {
      expect(result.value.error).toBeInstanceOf(LeaseLostError);
      expect(result.value.aborted).toBe(true);
    }
  });
});

describe('history and fencing', () => {
  it('records grants and ends, and finds no overlap; a forged overlapping history is caught', async () => {
    const locks = locksForTest();
    for (let i = 0; i < 3; i++) {
      const g = granted(await locks.acquire('h', { holder: `H${i}` }));
      await locks.release('h', g.leaseId);
    }
    const history = await locks.history('h');
    expect(history.map((g) => [g.fence, g.state])).toEqual([
      [1, 'released'],
      [2, 'released'],
      [3, 'released'],
    ]);
    expect(findOverlaps(history)).toMatchObject({
      grants: 3,
      overlaps: [],
      fenceOrderViolations: [],
    });
    const [first, second] = history;
    if (!first || !second) throw new Error('history missing');
    const forged = [{ ...first, endedAt: second.grantedAt + 1 }, second];
    expect(findOverlaps(forged).overlaps).toEqual([
      expect.objectContaining({ fence: 2, heldTogether: [1, 2] }),
    ]);
  });

  it('a write carrying an older fence than the stored one is refused', async () => {
    const store = tableStoreForTest();
    const client = await store.table('runs');
    expect(
      await fencedWrite(client, { partitionKey: 'p', rowKey: 'r', v: 'new' }, 5),
    ).toMatchObject({ ok: true });
    expect(await fencedWrite(client, { partitionKey: 'p', rowKey: 'r', v: 'old' }, 4)).toEqual({
      ok: false,
      reason: 'stale',
      storedFence: 5,
    });
    expect(
      await fencedWrite(client, { partitionKey: 'p', rowKey: 'r', v: 'newer' }, 6),
    ).toMatchObject({ ok: true });
    expect((await client.getEntity('p', 'r')).v).toBe('newer');
  });
});
