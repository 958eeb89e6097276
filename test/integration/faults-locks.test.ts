// Issue 19 item 5: a lease bound to an Octopus task that has already finished is never granted.
import { describe, expect, it } from 'vitest';
import {
  runStatusPoll,
  statusPollJob,
  statusPollLockSeconds,
} from '../../shared/app/statusPollJob.js';
import { coordinationConfigSchema } from '../../shared/config/coordination/schema.js';
import { isLockError } from '../../shared/locks/errors.js';
import { jobLockName } from '../../shared/locks/jobLock.js';
import { silentLog } from '../../shared/runtime/log.js';
import { createRuntime } from '../../shared/runtime/runtime.js';
import { locksForTest } from '../helpers/locks.js';
import { assertBuilt, startLockWorker } from '../helpers/lockWorkers.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';

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

describe('job leases after a crash', () => {
  it('a status poll killed while holding its lease is replaced within the short lease, not after minutes', async () => {
    const prefix = uniqueTablePrefix();
    assertBuilt();
    // A process that holds the status poll's job lease with the poll's own TTL, then dies (SIGKILL).
    const worker = startLockWorker(
      {
        mode: 'hold',
        lock: jobLockName(statusPollJob),
        holder: 'killed poll',
        ttlSeconds: statusPollLockSeconds,
      },
      prefix,
    );
    expect(JSON.parse(await worker.firstLine)).toMatchObject({ granted: true });
    worker.child.kill('SIGKILL');
    await worker.done.catch(() => undefined);
    const killedAt = Date.now();
    const rt = await createRuntime({
      env: { AzureWebJobsStorage: azuriteConnectionString(), WEBHOOK_SECRET: 's' },
      config: coordinationConfigSchema.parse({}),
      tablePrefix: prefix,
    });
    // Another instance's timer keeps firing (every second here instead of every minute).
    const deadline = killedAt + 90_000;
    let outcome = await runStatusPoll(rt, silentLog);
    while (!outcome.ran && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      outcome = await runStatusPoll(rt, silentLog);
    }
    expect(outcome.ran).toBe(true);
    // Replaced after the short lease, not after the old 300 s one (no tighter timing here: the
    // machine may be loaded; the lease length itself is at most one poll interval).
    expect(statusPollLockSeconds).toBeLessThanOrEqual(60);
  }, 120_000);
});
