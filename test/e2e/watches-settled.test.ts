// Watches announce settled states only, end to end: the simulator's subscriptions POST real webhooks to
// two coordinator instances on one Azurite, both poll, and mail goes through the real SendGrid SDK to a
// local fake. A promotion moves the set stage by stage; people expect one email for what stands after it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  startOctopusSimulator,
  type OctopusSimulator,
  type Scenario,
} from '../../dev/octopus-sim/index.js';
import { wireSimulatorToCoordinator } from '../../dev/wireSimulator.js';
import { coordinationConfigSchema } from '../../shared/config/coordination/schema.js';
import { immediateProcessingIdle } from '../../shared/events/queue.js';
import { collect } from '../../shared/octopus/paging.js';
import { startPromotionNow } from '../../shared/promotion/schedule.js';
import { silentLog } from '../../shared/runtime/log.js';
import { RunStore } from '../../shared/runs/store.js';
import type { RunState } from '../../shared/runs/types.js';
import { isTerminalRunStatus } from '../../shared/runs/types.js';
import { pollOnce } from '../../shared/app/poll.js';
import { startFakeSendGrid, type FakeSendGrid } from '../helpers/fakeSendGrid.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';
import {
  startCoordinatorInstance,
  waitFor,
  type CoordinatorInstance,
} from '../helpers/webhookCoordinator.js';

const secret = 'watch-webhook-secret';
const header = 'X-Coordinator-Secret';

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
    { name: 'Web App', steps: ['Deploy app'] },
  ],
  releases: [
    { project: 'Database', version: '1.4.0' },
    { project: 'Database', version: '1.5.0' },
    { project: 'Web API', version: '2.16.0' },
    { project: 'Web API', version: '2.17.0' },
    { project: 'Web App', version: '3.2.0' },
    { project: 'Web App', version: '3.3.0' },
  ],
  history: [
    { project: 'Database', release: '1.4.0', environment: 'Test', minutesAgo: 300 },
    { project: 'Database', release: '1.4.0', environment: 'Production', minutesAgo: 290 },
    { project: 'Database', release: '1.5.0', environment: 'Test', minutesAgo: 100 },
    { project: 'Web API', release: '2.16.0', environment: 'Test', minutesAgo: 300 },
    { project: 'Web API', release: '2.16.0', environment: 'Production', minutesAgo: 290 },
    { project: 'Web API', release: '2.17.0', environment: 'Test', minutesAgo: 90 },
    { project: 'Web App', release: '3.2.0', environment: 'Test', minutesAgo: 200 },
    { project: 'Web App', release: '3.2.0', environment: 'Production', minutesAgo: 150 },
    { project: 'Web App', release: '3.3.0', environment: 'Test', minutesAgo: 80 },
  ],
  stepDurationMs: 40,
  webhookBatchIntervalMs: 60_000,
};

const config = (rollbackOnFailure: boolean) =>
  coordinationConfigSchema.parse({
    space: 'Default',
    projectSets: {
      'web-stack': {
        projects: ['Database', 'Web API', 'Web App'],
        dependsOn: { 'Web API': ['Database'], 'Web App': ['Web API'] },
      },
    },
    watches: [
      {
        name: 'web-stack-live',
        set: 'web-stack',
        environments: ['Production'],
        notifyOnFailure: true,
        recipients: ['release-managers@example.com'],
      },
    ],
    promotions: [
      {
        name: 'nightly',
        set: 'web-stack',
        from: 'Test',
        to: 'Production',
        cron: '0 0 18 * * Mon-Fri',
        rollbackOnFailure,
      },
    ],
  });

let sim: OctopusSimulator;
let mail: FakeSendGrid;
let instances: CoordinatorInstance[] = [];
let subscribedAt = new Date();

beforeEach(async () => {
  sim = await startOctopusSimulator({ port: 0 });
  mail = await startFakeSendGrid();
});

afterEach(async () => {
  for (const i of instances) {
    await immediateProcessingIdle(i.runtime);
    await i.stop();
  }
  instances = [];
  await sim.stop();
  await mail.stop();
});

/** Two instances on one Azurite, each with its own Octopus subscription (both get every event). */
async function setUp(rollbackOnFailure = true): Promise<CoordinatorInstance[]> {
  sim.loadScenario(scenario);
  subscribedAt = new Date();
  const tablePrefix = uniqueTablePrefix();
  for (let n = 0; n < 2; n++) {
    const instance = await startCoordinatorInstance({
      env: {
        AzureWebJobsStorage: azuriteConnectionString(),
        OCTOPUS_URL: sim.url,
        OCTOPUS_API_KEY: sim.apiKey,
        WEBHOOK_SECRET: secret,
        WEBHOOK_SECRET_HEADER: header,
        SENDGRID_API_KEY: 'SG.fake-key',
        SENDGRID_API_URL: mail.url,
        MAIL_FROM: 'coordinator@example.com',
      },
      config: config(rollbackOnFailure),
      tablePrefix,
    });
    instances.push(instance);
    await wireSimulatorToCoordinator({
      simulatorUrl: sim.url,
      apiKey: sim.apiKey,
      coordinatorUrl: instance.url,
      header,
      secret,
      name: `Coordinator ${n + 1}`,
    });
  }
  return instances;
}

function octopusOf(i: CoordinatorInstance) {
  const octopus = i.runtime.octopus;
  if (!octopus) throw new Error('no octopus');
  return octopus;
}

async function runs(i: CoordinatorInstance): Promise<RunState[]> {
  const store = new RunStore(i.runtime.tables);
  const out: RunState[] = [];
  for (const summary of await store.list()) {
    const loaded = await store.get(summary.id);
    if (loaded) out.push(loaded.state);
  }
  return out;
}

/**
 * Let webhooks arrive at both instances (each event while it happens, as Octopus sends them) and
 * both instances poll, until Octopus, the runs and the webhooks are quiet for a few rounds.
 */
async function settle(): Promise<void> {
  const [a] = instances;
  if (!a) throw new Error('no instance');
  let quietRounds = 0;
  await waitFor(
    async () => {
      await sim.flushWebhooks();
      for (const i of instances) await immediateProcessingIdle(i.runtime);
      for (const i of instances) await pollOnce(i.runtime, silentLog);
      const active = (sim.state().activeTasks as unknown[]).length;
      const all = await runs(a);
      const delivered = new Set(sim.webhookDeliveries().map((d) => d.eventId));
      const raised = await collect(octopusOf(a).events.list({ from: subscribedAt }));
      const quiet =
        active === 0 &&
        all.every((r) => isTerminalRunStatus(r.status)) &&
        raised.every((e) => delivered.has(e.Id));
      quietRounds = quiet ? quietRounds + 1 : 0;
      if (quietRounds < 3) await new Promise((r) => setTimeout(r, 200));
      return quietRounds >= 3;
    },
    'Octopus, the runs and the webhooks to go quiet',
    90_000,
  );
}

const subjects = () => mail.received.map((m) => m.body.subject);
const liveMails = () => subjects().filter((s) => s.startsWith('web-stack is live'));

async function manualDeploy(i: CoordinatorInstance, project: string, version: string) {
  const octopus = octopusOf(i);
  const projectId = await octopus.resolve.projectId(project);
  const release = await octopus.releases.byVersion(projectId, version);
  if (!release) throw new Error(`no release ${version}`);
  return octopus.deployments.create({
    ReleaseId: release.Id,
    EnvironmentId: await octopus.resolve.environmentId('Production'),
    ProjectId: projectId,
  });
}

describe('watches during coordinator runs', { timeout: 120_000 }, () => {
  it('a successful 3-stage promotion sends one "live" email, for the combination that stands', async () => {
    const [a] = await setUp();
    if (!a) throw new Error('no instance');
    const promotion = a.runtime.config.promotions[0];
    if (!promotion) throw new Error('no promotion');
    const started = await startPromotionNow(a.runtime, promotion, 'test', silentLog);
    expect(started.runId).toBeDefined();
    await settle();
    const all = await runs(a);
    const [run] = all;
    expect(run?.status).toBe('succeeded');
    expect(run?.stages.map((s) => s.name)).toHaveLength(3);
    expect(liveMails(), JSON.stringify(all.map((r) => [r.id, r.history]))).toEqual([
      'web-stack is live in Production: Database 1.5.0, Web API 2.17.0, Web App 3.3.0',
    ]);
  });

  it('a failed and rolled-back promotion sends no "live" email', async () => {
    const [a] = await setUp(true);
    if (!a) throw new Error('no instance');
    sim.script({ project: 'Web App', environment: 'Production' });
    const promotion = a.runtime.config.promotions[0];
    if (!promotion) throw new Error('no promotion');
    await startPromotionNow(a.runtime, promotion, 'test', silentLog);
    await settle();
    const [run] = await runs(a);
    expect(run?.status).toBe('failed');
    expect(run?.onFailure.status).toBe('succeeded');
    expect(liveMails(), subjects().join('\n')).toEqual([]);
  });

  it('a manual deploy of one member sends one "live" email, as before', async () => {
    const [a] = await setUp();
    if (!a) throw new Error('no instance');
    await manualDeploy(a, 'Web App', '3.3.0');
    await settle();
    expect(liveMails()).toEqual([
      'web-stack is live in Production: Database 1.4.0, Web API 2.16.0, Web App 3.3.0',
    ]);
  });

  it('a manual deploy announces only once no member is queued or executing there', async () => {
    const [a] = await setUp();
    if (!a) throw new Error('no instance');
    sim.setStepDuration({ ms: 400, project: 'Database' });
    await manualDeploy(a, 'Database', '1.5.0');
    await manualDeploy(a, 'Web App', '3.3.0');
    await settle();
    expect(liveMails()).toEqual([
      'web-stack is live in Production: Database 1.5.0, Web API 2.16.0, Web App 3.3.0',
    ]);
  });
});
