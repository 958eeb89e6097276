// How a run observes its Octopus tasks, against the simulator over HTTP: a paused task (manual
// intervention) comes with its interruption types; a task Octopus cancelled because a newer deployment
// to the same target superseded it comes with that deployment; a user's cancel does not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OctopusSimulator } from '../../dev/octopus-sim/index.js';
import type { OctopusClient } from '../../shared/octopus/client.js';
import { observeTasks } from '../../shared/runs/executor.js';
import { startAppSimulator, type AppSimulator } from '../helpers/appSimulator.js';

let sim: OctopusSimulator;
let octopus: OctopusClient;
let deploy: AppSimulator['deploy'];

beforeAll(async () => {
  ({ sim, octopus, deploy } = await startAppSimulator());
});

afterAll(async () => {
  await sim?.stop();
});

describe('observeTasks', () => {
  it('reports a paused task with its interruption types', async () => {
    sim.script({ project: 'App', environment: 'Development', outcome: 'manualIntervention' });
    const d = await deploy('1.0.0');
    const [o] = await observeTasks(octopus, [d.TaskId]);
    expect(o).toMatchObject({
      kind: 'task',
      hasPendingInterruptions: true,
      pendingInterruptionTypes: ['ManualIntervention'],
    });
    await octopus.tasks.cancel(d.TaskId);
    sim.clock({ action: 'advance', ms: 1_000 });
  });

  it('names the newer deployment that superseded a cancelled one, and nothing for a user cancel', async () => {
    sim.projectSettings({ project: 'App', cancelQueuedTasks: true });
    const running = await deploy('1.0.0');
    const older = await deploy('1.1.0');
    const newer = await deploy('1.2.0');
    const [superseded] = await observeTasks(octopus, [older.TaskId]);
    expect(superseded).toMatchObject({
      state: 'Canceled',
      superseded: { deploymentId: newer.Id, taskId: newer.TaskId, version: '1.2.0' },
    });
    sim.projectSettings({ project: 'App', cancelQueuedTasks: false });
    await octopus.tasks.cancel(newer.TaskId);
    sim.clock({ action: 'advance', ms: 1_000 });
    const [cancelled] = await observeTasks(octopus, [newer.TaskId]);
    expect(cancelled?.kind === 'task' && cancelled.state).toBe('Canceled');
    expect(cancelled).not.toHaveProperty('superseded');
    expect(running.Id).toBeTruthy();
  });
});
