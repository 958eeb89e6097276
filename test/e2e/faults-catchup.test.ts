// Issue 19 item 3: a rule's trigger whose webhook Octopus dropped still starts the playbook, from
// the status poll's events catch-up, and only once, whichever way the event comes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOctopusSimulator, type OctopusSimulator } from '../../dev/octopus-sim/index.js';
import { pollOnce } from '../../shared/app/poll.js';
import { coordinationConfigSchema } from '../../shared/config/coordination/schema.js';
import { catchUpEvents } from '../../shared/events/catchUp.js';
import { immediateProcessingIdle } from '../../shared/events/queue.js';
import { silentLog } from '../../shared/runtime/log.js';
import { RunStore } from '../../shared/runs/store.js';
import { uniqueTablePrefix } from '../helpers/storage.js';
import { startWiredInstances, type CoordinatorInstance } from '../helpers/webhookCoordinator.js';

const scenario = {
  environments: ['Test'],
  lifecycles: [{ name: 'Default Lifecycle', phases: [{ environments: ['Test'] }] }],
  projects: [
    { name: 'Api', steps: ['Deploy'] },
    { name: 'Web', steps: ['Deploy'] },
  ],
  releases: [
    { project: 'Api', version: '1.0.0' },
    { project: 'Web', version: '2.0.0' },
  ],
  stepDurationMs: 20,
  webhookBatchIntervalMs: 60_000,
};

const config = coordinationConfigSchema.parse({
  space: 'Default',
  projectSets: { shop: { projects: ['Api', 'Web'] } },
  playbooks: {
    tell: {
      stages: [
        {
          name: 'Tell',
          actions: [{ type: 'notify', id: 'n', to: ['team@example.com'], subject: 'Api is out' }],
        },
      ],
    },
  },
  rules: [{ name: 'after-api', when: { project: 'Api', environment: 'Test' }, start: 'tell' }],
});

let sim: OctopusSimulator;
let instance: CoordinatorInstance | undefined;

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0 });
});

afterAll(async () => {
  if (instance) {
    await immediateProcessingIdle(instance.runtime);
    await instance.stop();
  }
  await sim.stop();
});

describe('the status poll catches up events a dropped webhook never brought', () => {
  it('starts the rule once from the poll (one events call per space), and later polls start nothing more', async () => {
    sim.loadScenario(scenario);
    [instance] = await startWiredInstances({
      sim,
      config,
      webhook: { secret: 'catchup-secret', header: 'X-Coordinator-Secret' },
      env: { MAIL_OUTBOX_DIR: `/tmp/faults-outbox-${uniqueTablePrefix()}` },
      subscriptionName: () => 'Catch-up',
    });
    if (!instance) throw new Error('no instance');
    const runtime = instance.runtime;
    // The first poll sets the cursor (nothing happened yet).
    await pollOnce(runtime, silentLog);
    const octopus = runtime.octopus;
    if (!octopus) throw new Error('no octopus');
    const projectId = await octopus.resolve.projectId('Api');
    const release = await octopus.releases.byVersion(projectId, '1.0.0');
    if (!release) throw new Error('no release');
    // Octopus drops every webhook of this batch.
    sim.faults({ type: 'webhook', mode: 'drop', count: 0 });
    await octopus.deployments.create({
      ProjectId: projectId,
      ReleaseId: release.Id,
      EnvironmentId: await octopus.resolve.environmentId('Test'),
    });
    await new Promise((r) => setTimeout(r, 400));
    await sim.flushWebhooks();
    await immediateProcessingIdle(runtime);
    const store = new RunStore(runtime.tables);
    expect(await store.list()).toHaveLength(0);

    const eventCalls = (): number =>
      Object.entries(sim.requests().byEndpoint)
        .filter(([endpoint]) => /GET \/api\/[^/]+\/events$|GET \/api\/events$/.test(endpoint))
        .reduce((n, [, count]) => n + count, 0);
    const before = eventCalls();
    const poll = await pollOnce(runtime, silentLog);
    // One events call for the one space the config reads.
    expect(eventCalls() - before).toBe(1);
    expect(poll.events.caughtUp).toBeGreaterThan(0);
    const runs = await store.list();
    expect(runs).toHaveLength(1);
    expect((await store.get(runs[0]?.id ?? ''))?.state.trigger).toMatchObject({
      kind: 'rule',
      by: 'after-api',
    });

    // Later polls read nothing new and start nothing more.
    sim.faults({ clear: true });
    await pollOnce(runtime, silentLog);
    expect((await pollOnce(runtime, silentLog)).events.caughtUp).toBe(0);
    expect(await store.list()).toHaveLength(1);

    // Events the webhook did bring cost the catch-up one range read, not one refused insert each:
    // the cursor read, the range read and the cursor update, however many events the page holds.
    const webId = await octopus.resolve.projectId('Web');
    const webRelease = await octopus.releases.byVersion(webId, '2.0.0');
    if (!webRelease) throw new Error('no release');
    await octopus.deployments.create({
      ProjectId: webId,
      ReleaseId: webRelease.Id,
      EnvironmentId: await octopus.resolve.environmentId('Test'),
    });
    await new Promise((r) => setTimeout(r, 400));
    await sim.flushWebhooks();
    await immediateProcessingIdle(runtime);
    const tripsBefore = runtime.tables.roundTrips.count;
    const caught = await catchUpEvents(runtime, ['Default'], () => octopus, silentLog);
    expect(caught.problems).toEqual([]);
    expect(caught.stored).toHaveLength(0);
    expect(runtime.tables.roundTrips.count - tripsBefore).toBe(3);
  }, 60_000);
});
