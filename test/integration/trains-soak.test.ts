// How a train's soak is timed, against Azurite and the simulator: in storage time only, so an instance
// whose clock is hours ahead verifies nothing early; a failed deployment of a member interrupts the soak
// and a redeployment starts it again from then; a restarted instance (a new runtime on the same tables)
// carries on from what is stored; captures of one combination from many places make one train.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  sampleScenario,
  startOctopusSimulator,
  type OctopusSimulator,
  type Scenario,
} from '../../dev/octopus-sim/index.js';
import { ManualClock } from '../../shared/clock.js';
import {
  coordinationConfigSchema,
  type CoordinationConfig,
} from '../../shared/config/coordination/schema.js';
import { findPromotion, readPromotionPlan } from '../../shared/promotion/readPlan.js';
import type { Mailer } from '../../shared/mail/mailer.js';
import { silentLog } from '../../shared/runtime/log.js';
import { createRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { takeStatusSnapshot } from '../../shared/status/snapshot.js';
import { captureTrain } from '../../shared/trains/capture.js';
import { observeTrains } from '../../shared/trains/consumers.js';
import { combinationOf } from '../../shared/trains/soak.js';
import type { Train } from '../../shared/trains/model.js';
import { TrainStore } from '../../shared/trains/store.js';
import { testThenProduction } from '../helpers/scenarios.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';

const soakMinutes = 0.05; // 3 s

const scenario: Scenario = {
  ...testThenProduction,
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

function runtimeAt(
  clock: ManualClock,
  tablePrefix: string,
  coordination: CoordinationConfig = config,
): Promise<Runtime> {
  return createRuntime({
    env: {
      AzureWebJobsStorage: azuriteConnectionString(),
      OCTOPUS_URL: sim.url,
      OCTOPUS_API_KEY: sim.apiKey,
    },
    config: coordination,
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

/** Poll until the train is verified (each poll a new reading), at most `ms`. */
async function verifiedWithin(
  runtime: Runtime,
  store: TrainStore,
  id: string,
  ms: number,
  set = 'web-stack',
): Promise<Train | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    await poll(runtime);
    const train = await store.get(set, id);
    if (train?.state === 'verified' || Date.now() > deadline) return train;
    await sleep(500);
  }
}

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
    // A longer soak here, so that a loaded machine still reads the skewed poll inside it.
    const longer = coordinationConfigSchema.parse({
      space: 'Default',
      projectSets: { 'web-stack': { projects: ['Database', 'Web API'], soakMinutes: 0.2 } },
    });
    const a = await runtimeAt(new ManualClock(new Date()), prefix, longer);
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
    const skewed = await runtimeAt(
      new ManualClock(new Date(Date.now() + 3 * 3600_000)),
      prefix,
      longer,
    );
    await poll(skewed);
    const store = new TrainStore(a.tables);
    expect((await store.get('web-stack', id))?.state).toBe('soaking');

    // A restarted instance (nothing in memory) verifies it once the soak has passed in storage time
    // (a slow poll on a loaded machine may need another reading: the bound is conservative).
    await sleep(0.2 * 60_000 + 2500);
    const restarted = await runtimeAt(
      new ManualClock(new Date(Date.now() - 3600_000)),
      prefix,
      longer,
    );
    const train = await verifiedWithin(restarted, store, id, 30_000);
    expect(train?.state).toBe('verified');
    expect(
      Date.parse(train?.verifiedAt ?? '') - Date.parse(train?.standingSince ?? ''),
    ).toBeGreaterThanOrEqual(0.2 * 60_000);
    const live = [...(await store.liveRows()).values()];
    expect(live.map((r) => [r.trainId, r.state])).toEqual([[id, 'verified']]);

    // What a poll costs the trains once nothing changes: one query of the live rows, nothing else.
    const snapshot = await takeStatusSnapshot(restarted);
    restarted.tables.roundTrips.reset();
    await observeTrains(restarted, snapshot, silentLog);
    expect(restarted.tables.roundTrips.count).toBe(1);
  }, 90_000);

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
    // Storage time comes from the Date header (whole seconds), so "after the sleep" can be equal.
    expect(Date.parse(again?.standingSince ?? '')).toBeGreaterThanOrEqual(
      Date.parse(train.standingSince ?? '') + soakMinutes * 60_000,
    );
    // A soaking train costs a poll one more read (the train, with the storage time), and no write.
    const snapshot = await takeStatusSnapshot(runtime);
    runtime.tables.roundTrips.reset();
    await observeTrains(runtime, snapshot, silentLog);
    expect(runtime.tables.roundTrips.count).toBe(2);
    expect((await store.get('web-stack', train.id))?.state).toBe('soaking');
    await sleep(soakMinutes * 60_000 + 2500);
    expect((await verifiedWithin(runtime, store, train.id, 30_000))?.state).toBe('verified');
  }, 90_000);

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
    expect((await verifiedWithin(runtime, store, combination.id, 30_000))?.state).toBe('verified');
    const live = (await store.liveRows()).get(before[0]);
    expect([live?.trainId, live?.state]).toEqual([combination.id, 'verified']);
  }, 90_000);

  it("keeps a tenanted set's trains per tenant, and a train promotion takes each tenant's own", async () => {
    sim.loadScenario(sampleScenario);
    const billing = coordinationConfigSchema.parse({
      space: 'Default',
      projectSets: {
        billing: { projects: ['Billing Worker'], tenants: ['Acme Corp', 'Globex'], soakMinutes: 0 },
      },
      promotions: [
        {
          name: 'bill',
          set: 'billing',
          from: 'Test',
          to: 'Production',
          cron: '0 0 3 1 1 *',
          source: 'train',
        },
      ],
    });
    const runtime = await runtimeAt(new ManualClock(new Date()), uniqueTablePrefix(), billing);
    await expect(
      captureTrain(runtime, { set: 'billing', environment: 'Test', by: 'test' }, silentLog),
    ).rejects.toThrow(
      /tenant: set billing is tenanted, so a train is per tenant; name one of Acme Corp, Globex/,
    );
    const { train } = await captureTrain(
      runtime,
      { set: 'billing', environment: 'Test', tenant: 'acme corp', by: 'test' },
      silentLog,
    );
    expect([train.tenant, train.members.map((m) => [m.project, m.tenant, m.version])]).toEqual([
      'Acme Corp',
      [['Billing Worker', 'Acme Corp', '1.0.0']],
    ]);
    await sleep(3000);
    const store = new TrainStore(runtime.tables);
    expect((await verifiedWithin(runtime, store, train.id, 30_000, 'billing'))?.state).toBe(
      'verified',
    );

    const octopus = runtime.octopus;
    if (!octopus) throw new Error('no octopus');
    const plan = await readPromotionPlan(
      octopus,
      billing,
      findPromotion(billing, 'bill'),
      new Date(),
      { tables: runtime.tables, timeZone: 'UTC' },
    );
    expect(plan.trains?.map((t) => [t.tenant, t.id])).toEqual([
      ['Acme Corp', train.id],
      ['Globex', null],
    ]);
    expect(plan.blockers).toEqual([
      'no train of set billing has been captured in Test for Globex (capture one with POST /api/trains, or set "captureTrains" on a watch of the set)',
    ]);
    const acme = plan.stages[0]?.items.find((i) => i.tenant === 'Acme Corp');
    expect([acme?.action, acme?.release?.version, acme?.release?.train]).toEqual([
      'deploy',
      '1.0.0',
      train.id,
    ]);
  }, 90_000);
});
