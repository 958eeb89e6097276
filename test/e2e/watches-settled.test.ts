// Watches announce settled states only, end to end: the simulator's subscriptions POST real webhooks to
// two coordinator instances on one Azurite, both poll, and mail goes through the real SendGrid SDK to a
// local fake. A promotion moves the set stage by stage; people expect one email for what stands after it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  startOctopusSimulator,
  type OctopusSimulator,
  type Scenario,
} from '../../dev/octopus-sim/index.js';
import { coordinationConfigSchema } from '../../shared/config/coordination/schema.js';
import { immediateProcessingIdle } from '../../shared/events/queue.js';
import { startPromotionNow } from '../../shared/promotion/schedule.js';
import { silentLog } from '../../shared/runtime/log.js';
import { startFakeSendGrid, type FakeSendGrid } from '../helpers/fakeSendGrid.js';
import { webStackScenario } from '../helpers/scenarios.js';
import {
  deployInOctopus,
  runsOf,
  settle as settleAll,
  startWiredInstances,
  type CoordinatorInstance,
} from '../helpers/webhookCoordinator.js';

const secret = 'watch-webhook-secret';
const header = 'X-Coordinator-Secret';

const scenario: Scenario = webStackScenario({
  steps: { database: ['Migrate'], webApi: ['Deploy API'], webApp: ['Deploy app'] },
  // Web App 3.3.0 waits in Test, so the promotion moves all three.
  extra: {
    releases: [{ project: 'Web App', version: '3.3.0' }],
    history: [{ project: 'Web App', release: '3.3.0', environment: 'Test', minutesAgo: 80 }],
  },
  stepDurationMs: 40,
  webhookBatchIntervalMs: 60_000,
});

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
  instances = await startWiredInstances({
    sim,
    config: config(rollbackOnFailure),
    webhook: { secret, header },
    count: 2,
    mail,
  });
  return instances;
}

const runs = runsOf;

/**
 * Let webhooks arrive at both instances (each event while it happens, as Octopus sends them) and
 * both instances poll, until Octopus, the runs and the webhooks are quiet for a few rounds.
 */
const settle = () => settleAll({ sim, instances, since: subscribedAt, pauseMs: 200 });

const subjects = () => mail.received.map((m) => m.body.subject);
const liveMails = () => subjects().filter((s) => s.startsWith('web-stack is live'));

const manualDeploy = (i: CoordinatorInstance, project: string, version: string) =>
  deployInOctopus(i, project, version, 'Production');

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
