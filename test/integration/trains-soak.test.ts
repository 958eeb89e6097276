// How a train's soak is timed, against Azurite and the simulator: in storage time only, so an instance
// whose clock is hours ahead verifies nothing early; a failed deployment of a member interrupts the soak
// and a redeployment starts it again from then; a restarted instance (a new runtime on the same tables)
// carries on from what is stored; captures of one combination from many places make one train.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  startOctopusSimulator,
  type OctopusSimulator,
  type Scenario,
} from '../../dev/octopus-sim/index.js';
import { ManualClock } from '../../shared/clock.js';
import { coordinationConfigSchema } from '../../shared/config/coordination/schema.js';
import type { Mailer } from '../../shared/mail/mailer.js';
import { silentLog } from '../../shared/runtime/log.js';
import { createRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { takeStatusSnapshot } from '../../shared/status/snapshot.js';
import { captureTrain } from '../../shared/trains/capture.js';
import { observeTrains } from '../../shared/trains/consumers.js';
import { combinationOf } from '../../shared/trains/soak.js';
import { TrainStore } from '../../shared/trains/store.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';

const soakMinutes = 0.05; // 3 s

const scenario: Scenario = {
  environments: ['Test', 'Production'],
  lifecycles: [
    {
      name: 'Default Lifecycle',
      phases: [{ environments: ['Test'] }, { environments: ['Production'] }],
    },
  ],
  projects: [
    { name: 'Database', steps: ['Migrate'] },
    { name: 'Web API', steps: ['Deploy API'] },
  ],
  releases: [
    { project: 'Database', version: '1.5.0' },
    { project: 'Web API', version: '2.17.0' },
  ],
  history: [
    { project: 'Database', release: '1.5.0', environment: 'Test', minutesAgo: 100 },
    { project: 'Web API', release: '2.17.0', environment: 'Test', minutesAgo: 90 },
  ],
  stepDurationMs: 20,
  webhookBatchIntervalMs: 600_000,
};

const config = coordinationConfigSchema.parse({
  space: 'Default',
  projectSets: { 'web-stack': { projects: ['Database', 'Web API'], soakMinutes } },
});

const mailer: Mailer = {
  kind: 'outbox',
  describe: () => 'none',
  send: () => Promise.reject(new Error('no mail expected')),
};

let sim: OctopusSimulator;
beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0 });
});
afterAll(async () => {
  await sim?.stop();
});
beforeEach(() => {
  sim.loadScenario(scenario);
});

function runtimeAt(clock: ManualClock, tablePrefix: string): Promise<Runtime> {
  return createRuntime({
    env: {
      AzureWebJobsStorage: azuriteConnectionString(),
      OCTOPUS_URL: sim.url,
      OCTOPUS_API_KEY: sim.apiKey,
    },
    config,
    clock,
    mailer,
    tablePrefix,
  });
}

/** One status poll's worth for trains: a fresh reading, then the observation. */
async function poll(runtime: Runtime): Promise<void> {
  await observeTrains(runtime, await takeStatusSnapshot(runtime), silentLog);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function deploy(runtime: Runtime, project: string, version: string): Promise<void> {
  const octopus = runtime.octopus;
  if (!octopus) throw new Error('no octopus');
  const projectId = await octopus.resolve.projectId(project);
  const release = await octopus.releases.byVersion(projectId, version);
  const d = await octopus.deployments.create({
    ReleaseId: release?.Id ?? '',
    ProjectId: projectId,
    EnvironmentId: await octopus.resolve.environmentId('Test'),
  });
  for (let i = 0; i < 200; i++) {
    const [task] = await octopus.tasks.getMany([d.TaskId]);
    if (task && ['Success', 'Failed'].includes(task.State)) return;
    await sleep(25);
  }
  throw new Error('deployment did not finish');
}

describe('train soak', () => {
  it('is timed in storage time: an instance whose clock is hours ahead does not verify early, a restarted one carries on', async () => {
    const prefix = uniqueTablePrefix();
    const a = await runtimeAt(new ManualClock(new Date()), prefix);
    // Eight instances capture at once: one train.
    const captured = await Promise.all(
      Array.from({ length: 8 }, () =>
        captureTrain(a, { set: 'web-stack', environment: 'Test', by: 'test' }, silentLog),
      ),
    );
    expect(new Set(captured.map((c) => c.train.id)).size).toBe(1);
    expect(captured.filter((c) => c.created)).toHaveLength(1);
    const id = captured[0]?.train.id ?? '';

    // Clock skew: this instance thinks it is three hours later. The soak has not passed in storage time.
    const skewed = await runtimeAt(new ManualClock(new Date(Date.now() + 3 * 3600_000)), prefix);
    await poll(skewed);
    const store = new TrainStore(a.tables);
    expect((await store.get('web-stack', id))?.state).toBe('soaking');

    // A restarted instance (nothing in memory) verifies it once the soak has passed in storage time.
    await sleep(soakMinutes * 60_000 + 2500);
    const restarted = await runtimeAt(new ManualClock(new Date(Date.now() - 3600_000)), prefix);
    await poll(restarted);
    const train = await store.get('web-stack', id);
    expect(train?.state).toBe('verified');
    expect(
      Date.parse(train?.verifiedAt ?? '') - Date.parse(train?.standingSince ?? ''),
    ).toBeGreaterThanOrEqual(soakMinutes * 60_000);
    const live = [...(await store.liveRows()).values()];
    expect(live.map((r) => [r.trainId, r.state])).toEqual([[id, 'verified']]);
  }, 60_000);

  it('is interrupted by a failed deployment of a member, and starts again from the redeployment', async () => {
    const prefix = uniqueTablePrefix();
    const runtime = await runtimeAt(new ManualClock(new Date()), prefix);
    const { train } = await captureTrain(
      runtime,
      { set: 'web-stack', environment: 'Test', by: 'test' },
      silentLog,
    );
    const store = new TrainStore(runtime.tables);
    await poll(runtime);
    sim.script({ project: 'Web API', environment: 'Test', failAtStep: 1 });
    await deploy(runtime, 'Web API', '2.17.0');
    await poll(runtime);
    const interrupted = await store.get('web-stack', train.id);
    expect(interrupted?.state).toBe('interrupted');
    expect(interrupted?.interruption).toMatch(/Web API 2\.17\.0 is Failed/);

    // The same releases again: the same train, standing again from this reading (not from the capture).
    await sleep(soakMinutes * 60_000);
    await deploy(runtime, 'Web API', '2.17.0');
    await poll(runtime);
    const again = await store.get('web-stack', train.id);
    expect(again?.state).toBe('soaking');
    expect(Date.parse(again?.standingSince ?? '')).toBeGreaterThan(
      Date.parse(train.standingSince ?? '') + soakMinutes * 60_000,
    );
    await poll(runtime);
    expect((await store.get('web-stack', train.id))?.state).toBe('soaking');
    await sleep(soakMinutes * 60_000 + 2500);
    await poll(runtime);
    expect((await store.get('web-stack', train.id))?.state).toBe('verified');
  }, 60_000);

  it('times a train whose capture died after writing it and before updating the live row', async () => {
    const prefix = uniqueTablePrefix();
    const runtime = await runtimeAt(new ManualClock(new Date()), prefix);
    await poll(runtime); // the live row: this combination, no train
    const store = new TrainStore(runtime.tables);
    const [before] = [...(await store.liveRows()).entries()];
    expect(before?.[1].trainId).toBe('');
    // What a capture leaves when it dies in the middle: the train named in the live row, the train
    // written, and the live row not updated after.
    const snapshot = await takeStatusSnapshot(runtime);
    const cell = snapshot.cells.find((c) => c.environment === 'Test');
    const combination = cell ? combinationOf(cell) : undefined;
    if (!cell || !combination || !before) throw new Error('no complete Test cell');
    await store.putLive(before[0], { ...before[1], trainId: combination.id }, before[1].etag);
    const { storageNowMs } = await store.read('web-stack', combination.id);
    expect(
      (
        await store.create(
          {
            id: combination.id,
            set: 'web-stack',
            space: cell.space,
            spaceId: cell.spaceId,
            environment: 'Test',
            environmentId: cell.environmentId,
            tenant: null,
            tenantId: null,
            members: [],
            capturedAt: new Date(storageNowMs).toISOString(),
            capturedBy: 'test',
            state: 'soaking',
            standingSince: new Date(storageNowMs + 1000).toISOString(),
            verifiedAt: null,
            verifiedSoakMinutes: null,
            interruptedAt: null,
            interruption: null,
          },
          combination.fingerprint,
        )
      ).ok,
    ).toBe(true);
    await sleep(soakMinutes * 60_000 + 2500);
    await poll(runtime);
    expect((await store.get('web-stack', combination.id))?.state).toBe('verified');
    const live = (await store.liveRows()).get(before[0]);
    expect([live?.trainId, live?.state]).toEqual([combination.id, 'verified']);
  }, 60_000);
});
