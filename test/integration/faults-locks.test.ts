// Issue 19 item 5: a lease bound to an Octopus task that has already finished is never granted.
import { describe, expect, it } from 'vitest';
import { isLockError } from '../../shared/locks/index.js';
import { locksForTest } from '../helpers/locks.js';

describe('acquire bound to an octopusTaskId', () => {
  it('refuses (409 task_ended, naming the task) when the task has already finished, so no second holder follows', async () => {
    const ended = new Set(['ServerTasks-9']);
    let lookups = 0;
    const locks = locksForTest({
      endedTasks: async (ids) => {
        lookups += 1;
        return new Set(ids.filter((id) => ended.has(id)));
      },
    });
    const first = locks.acquire('mutex', {
      holder: 'A',
      octopusTaskId: 'ServerTasks-9',
      ttlSeconds: 600,
    });
    const err: unknown = await first.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isLockError(err, 'task_ended')).toBe(true);
    expect(isLockError(err) && err.status).toBe(409);
    expect((err as Error).message).toContain('ServerTasks-9');
    expect(lookups).toBe(1);
    // The lock is free for the next caller, and A never believed it held it.
    const second = await locks.acquire('mutex', { holder: 'B', ttlSeconds: 600 });
    expect(second.granted).toBe(true);
    // A live task is granted as before.
    const live = await locks.acquire('other', {
      holder: 'C',
      octopusTaskId: 'ServerTasks-10',
      ttlSeconds: 600,
    });
    expect(live.granted).toBe(true);
  });
});
