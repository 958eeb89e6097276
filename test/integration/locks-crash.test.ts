// A holder killed with SIGKILL mid-lease: freed by TTL, or, when bound to an Octopus task, as soon as
// that task ends in the simulator (asked by a waiter, or by the status poll's sweep).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOctopusSimulator, type OctopusSimulator } from '../../dev/octopus-sim/server.js';
import { LeaseLocks } from '../../shared/locks/leaseLock.js';
import { locksFor, releaseLeasesOfEndedTasks } from '../../shared/locks/runtimeLocks.js';
import { locksStatusConsumer } from '../../shared/locks/consumers.js';
import { silentLog } from '../../shared/runtime/log.js';
import { statusConsumers } from '../../shared/app/consumers.js';
import type { StatusSnapshot } from '../../shared/status/snapshot.js';
import { createRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { assertBuilt, startLockWorker } from '../helpers/lockWorkers.js';
import {
  azuriteConnectionString,
  tableStoreForTest,
  uniqueTablePrefix,
} from '../helpers/storage.js';

async function killedHolder(
  prefix: string,
  options: Record<string, unknown>,
): Promise<{ fence: number }> {
  assertBuilt();
  const worker = startLockWorker({ mode: 'hold', holder: 'doomed', ...options }, prefix);
  const grant = JSON.parse(await worker.firstLine) as { granted: boolean; fence: number };
  expect(grant.granted).toBe(true);
  worker.child.kill('SIGKILL');
  await worker.done.catch(() => undefined);
  return grant;
}

describe('a holder killed with SIGKILL', () => {
  it('is freed by its TTL, judged by storage time, and the history says it expired', async () => {
    const prefix = uniqueTablePrefix();
    await killedHolder(prefix, { lock: 'ttl', ttlSeconds: 2 });
    const store = tableStoreForTest(prefix);
    const locks = new LeaseLocks({ table: () => store.table('locks') });
    expect(await locks.acquire('ttl', { holder: 'next' })).toMatchObject({
      granted: false,
      position: 1,
    });
    const next = await locks.acquireWaiting('ttl', { holder: 'next' }, { waitMs: 15_000 });
    expect(next).toMatchObject({ granted: true, fence: 2 });
    expect((await locks.history('ttl')).map((g) => [g.fence, g.state])).toEqual([
      [1, 'expired'],
      [2, 'held'],
    ]);
  });
});

describe('task-bound leases with the Octopus simulator', () => {
  let sim: OctopusSimulator;
  let runtime: Runtime;
  const prefix = uniqueTablePrefix();

  beforeAll(async () => {
    sim = await startOctopusSimulator({ port: 0 });
    sim.setStepDuration({ ms: 600_000 });
    runtime = await createRuntime({
      env: {
        AzureWebJobsStorage: azuriteConnectionString(),
        OCTOPUS_URL: sim.url,
        OCTOPUS_API_KEY: sim.apiKey,
      },
      tablePrefix: prefix,
    });
  });

  afterAll(async () => {
    await sim?.stop();
  });

  async function startDeployment(): Promise<string> {
    const headers = { 'X-Octopus-ApiKey': sim.apiKey, 'content-type': 'application/json' };
    const releases = (await (
      await fetch(`${sim.url}/api/Spaces-1/releases?take=1`, { headers })
    ).json()) as {
      Items: { Id: string }[];
    };
    const releaseId = releases.Items[0]?.Id ?? '';
    for (const environmentId of ['Environments-1', 'Environments-2', 'Environments-3']) {
      const res = await fetch(`${sim.url}/api/Spaces-1/deployments`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ ReleaseId: releaseId, EnvironmentId: environmentId }),
      });
      if (res.ok) return ((await res.json()) as { TaskId: string }).TaskId;
    }
    throw new Error('the simulator accepted no deployment of the latest release');
  }

  it('is freed as soon as its task is cancelled: when a waiter asks, and by the poll sweep', async () => {
    const taskId = await startDeployment();
    await killedHolder(prefix, { lock: 'web01/step b', ttlSeconds: 3600, octopusTaskId: taskId });
    const locks = locksFor(runtime);
    const other = await locks.acquire('web01/step c', {
      holder: 'same task',
      octopusTaskId: taskId,
      ttlSeconds: 3600,
    });
    expect(other.granted).toBe(true);

    // The task still runs: the waiter's check finds it running and keeps waiting.
    expect(await locks.acquire('web01/step b', { holder: 'tenant B' })).toMatchObject({
      granted: false,
      position: 1,
    });
    expect(await releaseLeasesOfEndedTasks(runtime)).toBe(0);

    const cancel = await fetch(`${sim.url}/api/tasks/${taskId}/cancel`, {
      method: 'POST',
      headers: { 'X-Octopus-ApiKey': sim.apiKey },
    });
    expect(cancel.ok).toBe(true);
    const next = await locks.acquireWaiting(
      'web01/step b',
      { holder: 'tenant B' },
      { waitMs: 15_000 },
    );
    expect(next).toMatchObject({ granted: true, fence: 2 });
    expect((await locks.history('web01/step b'))[0]?.state).toBe('task-ended');

    expect(await releaseLeasesOfEndedTasks(runtime)).toBe(1);
    expect((await locks.inspect('web01/step c'))?.holders).toEqual([]);
  });

  it('is freed by the status poll: the locks consumer sweeps ended tasks and prunes history once a day', async () => {
    expect(statusConsumers.map((c) => c.name)).toContain('locks');
    const taskId = await startDeployment();
    const locks = locksFor(runtime);
    expect(
      (
        await locks.acquire('web02/step b', {
          holder: 'h',
          octopusTaskId: taskId,
          ttlSeconds: 3600,
        })
      ).granted,
    ).toBe(true);
    await fetch(`${sim.url}/api/tasks/${taskId}/cancel`, {
      method: 'POST',
      headers: { 'X-Octopus-ApiKey': sim.apiKey },
    });
    for (let i = 0; i < 50; i++) {
      const task = (await (
        await fetch(`${sim.url}/api/tasks/${taskId}`, {
          headers: { 'X-Octopus-ApiKey': sim.apiKey },
        })
      ).json()) as { State: string };
      if (task.State === 'Canceled') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const snapshot = {} as unknown as StatusSnapshot; // the consumer looks tasks up itself
    await locksStatusConsumer.run(runtime, snapshot, silentLog);
    expect((await locks.inspect('web02/step b'))?.holders).toEqual([]);
    const claims = await runtime.tables.table('jobs');
    const day = new Date().toISOString().slice(0, 10);
    expect((await claims.getEntity('lock-history-prune', day)).by).toBe(runtime.instanceId);
    await locksStatusConsumer.run(runtime, snapshot, silentLog); // second poll the same day: no second claim
  });
});
