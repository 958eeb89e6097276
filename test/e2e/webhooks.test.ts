// End to end: the simulator's subscriptions POST real webhook payloads to coordinator instances on
// one Azurite; emails go through the real SendGrid SDK to a local fake.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startOctopusSimulator, type OctopusSimulator } from '../../dev/octopus-sim/index.js';
import { coordinationConfigSchema } from '../../shared/config/coordination/schema.js';
import { immediateProcessingIdle } from '../../shared/events/queue.js';
import { eventsTable } from '../../shared/events/store.js';
import { silentLog } from '../../shared/runtime/log.js';
import { pollOnce } from '../../shared/app/poll.js';
import { statusView } from '../../shared/ui/statusView.js';
import { startFakeSendGrid, type FakeSendGrid } from '../helpers/fakeSendGrid.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';
import {
  deployInOctopus,
  startCoordinatorInstance,
  startWiredInstances,
  waitFor,
  type CoordinatorInstance,
} from '../helpers/webhookCoordinator.js';

const secret = 'test-webhook-secret-123';
const header = 'X-Coordinator-Secret';

const scenario = {
  environments: ['Test'],
  lifecycles: [{ name: 'Default Lifecycle', phases: [{ environments: ['Test'] }] }],
  projects: [
    { name: 'Api', steps: ['Deploy'] },
    { name: 'Web', steps: ['Deploy'] },
  ],
  releases: [
    { project: 'Api', version: '1.0.0' },
    { project: 'Api', version: '1.1.0' },
    { project: 'Web', version: '2.0.0' },
    { project: 'Web', version: '2.1.0' },
  ],
  history: [{ project: 'Api', release: '1.0.0', environment: 'Test', minutesAgo: 60 }],
  stepDurationMs: 20,
  webhookBatchIntervalMs: 60_000,
};

const config = coordinationConfigSchema.parse({
  space: 'Default',
  projectSets: { shop: { projects: ['Api', 'Web'] } },
  watches: [
    {
      name: 'shop-live',
      set: 'shop',
      environments: ['Test'],
      notifyOnFailure: true,
      recipients: ['team@example.com'],
    },
  ],
});

let sim: OctopusSimulator;
let mail: FakeSendGrid;
let instances: CoordinatorInstance[] = [];

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0 });
  mail = await startFakeSendGrid();
});

afterAll(async () => {
  await sim.stop();
  await mail.stop();
});

afterEach(async () => {
  for (const i of instances) {
    await immediateProcessingIdle(i.runtime);
    await i.stop();
  }
  instances = [];
  sim.faults({ clear: true });
});

function env(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return {
    AzureWebJobsStorage: azuriteConnectionString(),
    OCTOPUS_URL: sim.url,
    OCTOPUS_API_KEY: sim.apiKey,
    WEBHOOK_SECRET: secret,
    WEBHOOK_SECRET_HEADER: header,
    SENDGRID_API_KEY: 'SG.fake-key',
    SENDGRID_API_URL: mail.url,
    MAIL_FROM: 'coordinator@example.com',
    ...overrides,
  };
}

/** Fresh simulator state, a fresh table prefix, `count` instances each with its own subscription. */
async function setUp(
  count = 1,
  envOverrides: Record<string, string | undefined> = {},
): Promise<CoordinatorInstance[]> {
  sim.loadScenario(scenario);
  mail.received.length = 0;
  instances.push(
    ...(await startWiredInstances({
      sim,
      config,
      webhook: { secret, header },
      count,
      mail,
      env: envOverrides,
    })),
  );
  return instances;
}

async function deploy(
  instance: CoordinatorInstance,
  project: string,
  version: string,
): Promise<string> {
  return (await deployInOctopus(instance, project, version, 'Test')).TaskId;
}

async function finished(instance: CoordinatorInstance, taskId: string): Promise<void> {
  const octopus = instance.runtime.octopus;
  await waitFor(
    async () => ['Success', 'Failed'].includes((await octopus?.tasks.get(taskId))?.State ?? ''),
    `task ${taskId}`,
  );
}

/** Deliver every pending event now, then let the instances finish processing what they stored. */
async function deliver(): Promise<void> {
  await sim.flushWebhooks();
  for (const i of instances) await immediateProcessingIdle(i.runtime);
}

async function storedEvents(instance: CoordinatorInstance): Promise<string[]> {
  const table = await instance.runtime.tables.table(eventsTable);
  const ids: string[] = [];
  for await (const row of table.listEntities<{ eventId?: string }>())
    if (row.eventId) ids.push(row.eventId);
  return ids;
}

const liveMails = () => mail.received.filter((m) => m.body.subject.startsWith('shop is live'));

describe('webhooks from the simulator', () => {
  it('mails once when a deployment completes the set, with versions and task links', async () => {
    const [a] = await setUp();
    if (!a) throw new Error('no instance');
    const task = await deploy(a, 'Web', '2.0.0');
    await finished(a, task);
    await deliver();
    expect(liveMails()).toHaveLength(1);
    const m = liveMails()[0];
    expect(m?.body.subject).toBe('shop is live in Test: Api 1.0.0, Web 2.0.0');
    const text = m?.body.content.find((c) => c.type === 'text/plain')?.value ?? '';
    expect(text).toContain(`${sim.url}/app#/Spaces-1/tasks/${task}`);
    expect(m?.body.personalizations[0]?.to[0]?.email).toBe('team@example.com');
    expect(a.answers.every((s) => s === 202)).toBe(true);
    // The poll afterwards sees the same combination: no second mail.
    await pollOnce(a.runtime, silentLog);
    expect(liveMails()).toHaveLength(1);
    const status = await statusView(a.runtime, 'shop');
    expect(status.sets[0]?.cells[0]).toMatchObject({
      environment: 'Test',
      state: 'complete',
      complete: true,
    });
    expect(status.sets[0]?.cells[0]?.lastNotified?.releases).toHaveLength(2);
  });

  it('acknowledges duplicate deliveries and stores each event once', async () => {
    const [a] = await setUp();
    if (!a) throw new Error('no instance');
    sim.faults({ type: 'webhook', mode: 'duplicate', count: 0 });
    await finished(a, await deploy(a, 'Web', '2.0.0'));
    await deliver();
    const deliveries = sim.webhookDeliveries().filter((d) => d.attempt === 2);
    expect(deliveries.length).toBeGreaterThan(0);
    expect(deliveries.every((d) => d.outcome === 200)).toBe(true);
    const ids = await storedEvents(a);
    expect(new Set(ids).size).toBe(ids.length);
    expect(a.answers.filter((s) => s === 200).length).toBe(deliveries.length);
    expect(liveMails()).toHaveLength(1);
  });

  it('stores every event of a batch and mails once for the new combination', async () => {
    const [a] = await setUp();
    if (!a) throw new Error('no instance');
    await finished(a, await deploy(a, 'Web', '2.0.0'));
    await deliver();
    const t1 = await deploy(a, 'Api', '1.1.0');
    const t2 = await deploy(a, 'Web', '2.1.0');
    await finished(a, t1);
    await finished(a, t2);
    await deliver();
    const lastBatch = sim.webhookDeliveries().at(-1);
    expect(lastBatch?.totalEventsInBatch).toBeGreaterThan(1);
    const batch = sim.webhookDeliveries().filter((d) => d.batchId === lastBatch?.batchId);
    expect(batch.every((d) => d.outcome === 202)).toBe(true);
    expect(await storedEvents(a)).toEqual(expect.arrayContaining(batch.map((d) => d.eventId)));
    expect(liveMails().map((m) => m.body.subject)).toEqual([
      'shop is live in Test: Api 1.0.0, Web 2.0.0',
      'shop is live in Test: Api 1.1.0, Web 2.1.0',
    ]);
  });

  it('catches a dropped batch tail with the status poll', async () => {
    const [a] = await setUp();
    if (!a) throw new Error('no instance');
    sim.faults({ type: 'webhook', mode: 'fail', category: 'DeploymentQueued' });
    await finished(a, await deploy(a, 'Web', '2.0.0'));
    await deliver();
    expect(
      sim
        .webhookDeliveries()
        .some((d) => d.outcome === 'skipped' && d.category === 'DeploymentSucceeded'),
    ).toBe(true);
    expect(liveMails()).toHaveLength(0);
    await pollOnce(a.runtime, silentLog);
    expect(liveMails()).toHaveLength(1);
  });

  it('two instances receiving the same events send one email', async () => {
    const [a, b] = await setUp(2);
    if (!a || !b) throw new Error('no instances');
    await finished(a, await deploy(a, 'Web', '2.0.0'));
    await deliver();
    expect(a.answers.length).toBeGreaterThan(0);
    expect(b.answers.length).toBe(a.answers.length);
    expect(liveMails()).toHaveLength(1);
    // Both polls race on the next combination, whose webhooks were lost.
    sim.faults({ type: 'webhook', mode: 'drop', count: 0 });
    await finished(a, await deploy(a, 'Api', '1.1.0'));
    await deliver();
    await Promise.all([pollOnce(a.runtime, silentLog), pollOnce(b.runtime, silentLog)]);
    expect(liveMails()).toHaveLength(2);
  });

  it('mails a member failure once when the watch asks for it', async () => {
    const [a] = await setUp();
    if (!a) throw new Error('no instance');
    await fetch(`${sim.url}/_sim/script`, {
      method: 'POST',
      headers: { 'X-Octopus-ApiKey': sim.apiKey, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        project: 'Web',
        environment: 'Test',
        outcome: 'fail',
        errorMessage: 'Disk full',
      }),
    });
    await finished(a, await deploy(a, 'Web', '2.0.0'));
    await deliver();
    await pollOnce(a.runtime, silentLog);
    const failures = mail.received.filter((m) =>
      m.body.subject.startsWith('Web 2.0.0 failed in Test'),
    );
    expect(failures).toHaveLength(1);
    expect(failures[0]?.body.content[0]?.value).toContain('Octopus says: The deployment failed');
    expect(liveMails()).toHaveLength(0);
  });

  it('retries a failed send on a later poll', async () => {
    const [a] = await setUp();
    if (!a) throw new Error('no instance');
    mail.failNext(503, 1);
    await finished(a, await deploy(a, 'Web', '2.0.0'));
    await deliver();
    expect(liveMails()).toHaveLength(0);
    await pollOnce(a.runtime, silentLog);
    expect(liveMails()).toHaveLength(1);
  });
});

describe('what the webhook refuses', () => {
  const payload = (id: string, category = 'DeploymentSucceeded') => ({
    Timestamp: '2026-08-05T09:01:41.870+00:00',
    EventType: 'SubscriptionPayload',
    Payload: {
      BatchId: 'b1',
      TotalEventsInBatch: '1',
      EventNumberInBatch: '1',
      Event: {
        Id: id,
        Category: category,
        Occurred: '2026-08-05T09:01:10.900+00:00',
        RelatedDocumentIds: [],
        Links: { Self: {} },
      },
    },
  });
  const post = (
    instance: CoordinatorInstance,
    body: string,
    headers: Record<string, string> = { [header]: secret },
  ) =>
    fetch(`${instance.url}/api/octopus/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });

  it('refuses missing and wrong secrets with 401, and everything when no secret is configured', async () => {
    const [a] = await setUp();
    if (!a) throw new Error('no instance');
    const body = JSON.stringify(payload('Events-1'));
    const missing = await post(a, body, {});
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe(
      'webhook_secret_missing',
    );
    const wrong = await post(a, body, { [header]: 'not-the-secret' });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).not.toContain(secret);
    expect(await storedEvents(a)).toEqual([]);
    const unset = await startCoordinatorInstance({
      env: env({ WEBHOOK_SECRET: undefined }),
      config,
      tablePrefix: uniqueTablePrefix(),
    });
    instances.push(unset);
    const refused = await post(unset, body);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
      'webhook_secret_not_configured',
    );
  });

  it('answers 413 for an oversized body and 400 for malformed ones, saying what is wrong', async () => {
    const [a] = await setUp();
    if (!a) throw new Error('no instance');
    expect((await post(a, JSON.stringify({ pad: 'x'.repeat(300 * 1024) }))).status).toBe(413);
    const notJson = await post(a, '{not json');
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe('invalid_json');
    const wrongShape = await post(a, JSON.stringify({ Payload: {} }));
    expect(wrongShape.status).toBe(400);
    expect(((await wrongShape.json()) as { error: { message: string } }).error.message).toContain(
      'Payload.Event',
    );
    expect(await storedEvents(a)).toEqual([]);
  });

  it('stores and acknowledges an unknown category, with counts as strings and loose links', async () => {
    const [a] = await setUp();
    if (!a) throw new Error('no instance');
    const first = await post(a, JSON.stringify(payload('Events-77', 'SomethingNew')));
    expect(first.status).toBe(202);
    const again = await post(a, JSON.stringify(payload('Events-77', 'SomethingNew')));
    expect(again.status).toBe(200);
    expect(((await again.json()) as { outcome: string }).outcome).toBe('duplicate');
    expect(await storedEvents(a)).toEqual(['Events-77']);
  });

  it('acknowledges an authenticated event when storage is down (held in memory, not refused)', async () => {
    const [a] = await setUp();
    if (!a) throw new Error('no instance');
    const down = await startCoordinatorInstance({
      env: env({
        AzureWebJobsStorage:
          'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:9/devstoreaccount1;',
      }),
      config,
      tablePrefix: uniqueTablePrefix(),
    });
    instances.push(down);
    const answer = await post(down, JSON.stringify(payload('Events-88')));
    expect(answer.status).toBe(202);
    expect(((await answer.json()) as { outcome: string }).outcome).toBe('held');
  });
});
