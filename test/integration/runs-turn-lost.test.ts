// A run's turn in its concurrency group granted to an instance that died before recording it: the run's
// record still says "queued" (no lease). When that run ends, giving its turn back must free the grant
// the same request id holds, not only a place in the queue; otherwise the group stays held by an ended
// run until the grant lapses (900 s) and every run behind it waits that long. Real Azurite.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../shared/runtime/runtime.js';
import {
  askForTurn,
  endTurn,
  joinGroup,
  runLocks,
  groupLockName,
} from '../../shared/runs/concurrency.js';
import type { RunPlan } from '../../shared/runs/types.js';
import { webStackRunPlan } from '../helpers/runPlans.js';
import { azuriteRuntime } from '../helpers/runtime.js';

let runtime: Runtime;

beforeAll(async () => {
  runtime = await azuriteRuntime();
});

function plan(group: string): RunPlan {
  return webStackRunPlan({
    name: 'release',
    timeoutMinutes: 60,
    recipients: [],
    concurrency: { group, policy: 'queue' },
  });
}

describe('ending a run whose granted turn was never recorded', () => {
  it('frees the group at once, so the run behind it gets its turn', async () => {
    const group = `turn-lost-${Date.now()}`;
    const lock = groupLockName(group);
    const a = await joinGroup(runtime, 'run-a', plan(group));
    expect(a.leaseId).toBeDefined();
    const b = await joinGroup(runtime, 'run-b', plan(group));
    expect(b.leaseId).toBeUndefined();
    expect(b.position).toBe(1);
    const c = await joinGroup(runtime, 'run-c', plan(group));
    expect(c.position).toBe(2);

    // A ends; B's next advance is granted the turn, and its instance dies before recording it.
    await endTurn(runtime, a, 'run-a');
    const lost = await askForTurn(runtime, b, 'run-b');
    expect(lost.leaseId).toBeDefined();
    const locks = runLocks(runtime);
    expect((await locks.inspect(lock))?.holders.map((h) => h.holder)).toEqual(['run run-b']);

    // B is cancelled by whoever carries on, from the record that still says "queued".
    const wake = await endTurn(runtime, b, 'run-b');
    expect((await locks.inspect(lock))?.holders ?? []).toEqual([]);
    expect(wake).toEqual(['run-c']);
    const next = await askForTurn(runtime, c, 'run-c');
    expect(next.leaseId).toBeDefined();
  });

  it('leaves only its place when it was still queued', async () => {
    const group = `turn-queued-${Date.now()}`;
    const lock = groupLockName(group);
    const a = await joinGroup(runtime, 'run-a', plan(group));
    const b = await joinGroup(runtime, 'run-b', plan(group));
    await endTurn(runtime, b, 'run-b');
    const view = await runLocks(runtime).inspect(lock);
    expect(view?.holders.map((h) => h.holder)).toEqual(['run run-a']);
    expect(view?.waiters ?? []).toEqual([]);
    expect(a.leaseId).toBeDefined();
  });
});
