// GET /api/progress (what Coordinator - Wait for project step reads) against the simulator: a deployment
// paused on a manual intervention is "waiting for someone in Octopus" with the task link; one Octopus
// superseded with a newer deployment to the same target names that deployment.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OctopusSimulator } from '../../dev/octopus-sim/index.js';
import { parseCoordinationConfig } from '../../shared/config/loadCoordinationConfig.js';
import { deploymentProgress } from '../../shared/cooperation/progress.js';
import type { OctopusClient } from '../../shared/octopus/client.js';
import { createRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';
import { startAppSimulator, type AppSimulator } from '../helpers/appSimulator.js';

let sim: OctopusSimulator;
let octopus: OctopusClient;
let deploy: AppSimulator['deploy'];
let runtime: Runtime;

beforeAll(async () => {
  ({ sim, octopus, deploy } = await startAppSimulator());
  runtime = await createRuntime({
    env: {
      AzureWebJobsStorage: azuriteConnectionString(),
      OCTOPUS_URL: sim.url,
      OCTOPUS_API_KEY: sim.apiKey,
      WEBHOOK_SECRET: 'x',
    },
    tablePrefix: uniqueTablePrefix(),
    config: parseCoordinationConfig({ space: 'Default', projectSets: {} }),
  });
});

afterAll(async () => {
  await sim?.stop();
});

describe('progress of paused and superseded deployments', () => {
  it('says a paused deployment waits for someone in Octopus, with the link, and keeps waiting', async () => {
    sim.script({ project: 'App', environment: 'Development', outcome: 'manualIntervention' });
    const d = await deploy('1.0.0');
    const answer = await deploymentProgress(runtime, {
      project: 'App',
      environment: 'Development',
      step: 2,
      waitSeconds: 0,
    });
    expect(answer.deploymentId).toBe(d.Id);
    expect(answer.taskFinished).toBe(false);
    expect(answer.step?.done).toBe(false);
    expect(answer.waitingFor).toMatch(/^someone in Octopus \(ManualIntervention is pending\): /);
    expect(answer.waitingFor).toContain(d.TaskId);
    expect(answer.taskUrl).toContain(d.TaskId);
    await octopus.tasks.cancel(d.TaskId);
    sim.clock({ action: 'advance', ms: 1_000 });
  });

  it('names the newer deployment that superseded a cancelled one', async () => {
    sim.projectSettings({ project: 'App', cancelQueuedTasks: true });
    await deploy('1.0.0');
    const older = await deploy('1.1.0');
    const newer = await deploy('1.2.0');
    const answer = await deploymentProgress(runtime, {
      project: 'App',
      environment: 'Development',
      release: '1.1.0',
      waitSeconds: 0,
    });
    expect(answer).toMatchObject({
      deploymentId: older.Id,
      state: 'Canceled',
      taskFinished: true,
      supersededBy: { deploymentId: newer.Id, taskId: newer.TaskId, release: '1.2.0' },
    });
  });
});
