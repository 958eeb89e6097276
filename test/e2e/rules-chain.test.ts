// Rules that could loop or be fooled, end to end: the simulator's subscription POSTs real webhook
// payloads to a coordinator instance on Azurite; runs deploy through the simulator.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startOctopusSimulator, type OctopusSimulator } from '../../dev/octopus-sim/index.js';
import { coordinationConfigSchema } from '../../shared/config/coordination/schema.js';
import { immediateProcessingIdle } from '../../shared/events/queue.js';
import { collect } from '../../shared/octopus/paging.js';
import { silentLog } from '../../shared/runtime/log.js';
import { pollOnce } from '../../shared/app/poll.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';
import {
  deployInOctopus,
  octopusOf,
  runsOf,
  settle as settleAll,
  startCoordinatorInstance,
  startWiredInstances,
  waitFor,
  type CoordinatorInstance,
} from '../helpers/webhookCoordinator.js';

const secret = 'rules-webhook-secret';
const header = 'X-Coordinator-Secret';

const scenario = {
  environments: ['Development'],
  lifecycles: [{ name: 'Default Lifecycle', phases: [{ environments: ['Development'] }] }],
  projects: [{ name: 'Database', steps: ['Migrate'] }],
  releases: [
    { project: 'Database', version: '1.0.0' },
    { project: 'Database', version: '1.1.0' },
  ],
  history: [{ project: 'Database', release: '1.0.0', environment: 'Development', minutesAgo: 600 }],
  stepDurationMs: 30,
  webhookBatchIntervalMs: 60_000,
};

/** Rule A starts a playbook whose deploy fires rule A again: a loop configured on purpose. */
function loopConfig(extra: Record<string, unknown> = {}) {
  return coordinationConfigSchema.parse({
    space: 'Default',
    playbooks: {
      'redeploy-db': {
        stages: [
          {
            name: 'Database',
            actions: [
              {
                type: 'deploy',
                id: 'db',
                project: 'Database',
                environment: 'Development',
                release: { version: '1.1.0' },
                when: 'always',
              },
            ],
          },
        ],
      },
    },
    rules: [
      {
        name: 'again',
        when: { category: 'DeploymentSucceeded', project: 'Database', environment: 'Development' },
        start: 'redeploy-db',
        includeCoordinatorDeployments: true,
      },
    ],
    ...extra,
  });
}

let sim: OctopusSimulator;
let instance: CoordinatorInstance | undefined;

// A simulator per test: a second scenario loaded into one simulator kept some webhook state of the first.
beforeEach(async () => {
  sim = await startOctopusSimulator({ port: 0 });
});

afterEach(async () => {
  if (instance) {
    await immediateProcessingIdle(instance.runtime);
    await instance.stop();
  }
  instance = undefined;
  vi.restoreAllMocks();
  await sim.stop();
});

let subscribedAt = new Date();

async function setUp(extra: Record<string, unknown> = {}): Promise<CoordinatorInstance> {
  sim.loadScenario(scenario);
  subscribedAt = new Date();
  [instance] = await startWiredInstances({
    sim,
    config: loopConfig(extra),
    webhook: { secret, header },
  });
  if (!instance) throw new Error('no instance');
  return instance;
}

/** A person deploys Database 1.1.0 to Development in Octopus (no coordinator marker). */
async function manualDeploy(i: CoordinatorInstance): Promise<{ id: string; taskId: string }> {
  const d = await deployInOctopus(i, 'Database', '1.1.0', 'Development');
  return { id: d.Id, taskId: d.TaskId };
}

const runs = runsOf;

/** What the coordinator logged, from the immediate pass (console) and the polls this test runs. */
const warnings: string[] = [];
const pollLog = { info: () => {}, warn: (m: string) => void warnings.push(m), error: () => {} };

/**
 * Deliver webhooks and poll until Octopus has nothing running, every run has ended and that stayed
 * so for a few rounds (a finished task's event is raised when the simulator next looks at it).
 */
const settle = (i: CoordinatorInstance) =>
  settleAll({ sim, instances: [i], since: subscribedAt, log: pollLog, pauseMs: 600 });

async function deploymentCount(i: CoordinatorInstance): Promise<number> {
  return (await collect(octopusOf(i).deployments.list())).length;
}

async function postEvent(i: CoordinatorInstance, event: Record<string, unknown>): Promise<number> {
  const res = await fetch(`${i.url}/api/octopus/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [header]: secret },
    body: JSON.stringify({
      Timestamp: new Date().toISOString(),
      EventType: 'SubscriptionPayload',
      Payload: { BatchId: 'forged', Event: event },
    }),
  });
  return res.status;
}

describe('rule chains', { timeout: 120_000 }, () => {
  it('a rule that fires on its own run’s deployment stops at the depth limit (default 1)', async () => {
    warnings.length = 0;
    vi.spyOn(console, 'warn').mockImplementation((m: unknown) => void warnings.push(String(m)));
    const i = await setUp();
    await manualDeploy(i);
    await settle(i);
    const all = await runs(i);
    expect(
      all.map((r) => r.status),
      JSON.stringify(all[0]?.failure ?? all[0]?.history),
    ).toEqual(['succeeded']);
    expect(all[0]?.trigger.chain).toHaveLength(1);
    expect(all[0]?.trigger.chain?.[0]).toMatchObject({ rule: 'again' });
    // The person's deployment and the one run's deployment; nothing after that.
    expect(await deploymentCount(i)).toBe(2 + 1);
    expect(
      warnings.some((w) => /refused .*chain of 2 .*ruleChainDepth 1/.test(w)),
      warnings.join('\n'),
    ).toBe(true);
  });

  it('a deeper limit allows exactly that many rule-started runs, each carrying the chain', async () => {
    warnings.length = 0;
    const i = await setUp({ ruleChainDepth: 3 });
    await manualDeploy(i);
    await settle(i);
    const all = await runs(i);
    expect(
      all,
      `${warnings.join('\n')}\n${await deploymentCount(i)} deployments; ${JSON.stringify(sim.webhookDeliveries().map((d) => [d.eventId, d.outcome]))}; ${JSON.stringify(all.map((r) => r.history))}`,
    ).toHaveLength(3);
    expect(all.map((r) => r.trigger.chain?.length).sort()).toEqual([1, 2, 3]);
    const deepest = all.find((r) => r.trigger.chain?.length === 3);
    expect(deepest?.trigger.chain?.[1]?.byRun).toBeDefined();
    expect(await deploymentCount(i)).toBe(2 + 3);
  });

  it('ignores the coordinator’s own deployments unless the rule opts in', async () => {
    const config = loopConfig();
    const i = await setUp({
      rules: [{ ...config.rules[0], includeCoordinatorDeployments: false }],
      ruleChainDepth: 5,
    });
    await manualDeploy(i);
    await settle(i);
    expect((await runs(i)).map((r) => r.trigger.chain?.length)).toEqual([1]);
  });
});

describe('events are hints', { timeout: 60_000 }, () => {
  it('a well-signed event naming no real deployment starts nothing', async () => {
    const i = await setUp();
    const octopus = octopusOf(i);
    const projectId = await octopus.resolve.projectId('Database');
    const environmentId = await octopus.resolve.environmentId('Development');
    const status = await postEvent(i, {
      Id: 'Events-900001',
      Category: 'DeploymentSucceeded',
      Message: 'Deploy to Development succeeded for Database release 1.1.0',
      Occurred: new Date().toISOString(),
      RelatedDocumentIds: [
        'Deployments-99999',
        projectId,
        environmentId,
        'Releases-99999',
        'ServerTasks-99999',
      ],
      SpaceId: await octopus.spaceId(),
    });
    expect(status).toBe(202);
    await immediateProcessingIdle(i.runtime);
    await pollOnce(i.runtime, silentLog);
    expect(await runs(i)).toEqual([]);
  });

  it('an event that says a failed deployment succeeded starts nothing', async () => {
    const i = await setUp({ rules: [] });
    sim.script({ project: 'Database', environment: 'Development' });
    const failed = await manualDeploy(i);
    await waitFor(
      async () => (await octopusOf(i).tasks.get(failed.taskId)).State === 'Failed',
      'the deployment to fail',
    );
    await instance?.stop();
    const j = await startCoordinatorInstance({
      env: {
        AzureWebJobsStorage: azuriteConnectionString(),
        OCTOPUS_URL: sim.url,
        OCTOPUS_API_KEY: sim.apiKey,
        WEBHOOK_SECRET: secret,
        WEBHOOK_SECRET_HEADER: header,
      },
      config: loopConfig(),
      tablePrefix: uniqueTablePrefix(),
    });
    instance = j;
    const octopus = octopusOf(j);
    const status = await postEvent(j, {
      Id: 'Events-900002',
      Category: 'DeploymentSucceeded',
      Occurred: new Date().toISOString(),
      RelatedDocumentIds: [
        failed.id,
        await octopus.resolve.projectId('Database'),
        await octopus.resolve.environmentId('Development'),
        failed.taskId,
      ],
      SpaceId: await octopus.spaceId(),
    });
    expect(status).toBe(202);
    await immediateProcessingIdle(j.runtime);
    expect(await runs(j)).toEqual([]);
  });
});
