// The Octopus simulator's behaviour: task life cycle on its clock, queueing per concurrency tag, cancel,
// scripted failures, webhook batching/duplicates/dropped tails, faults, request counts, control API, live mode.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  sampleScenario,
  startOctopusSimulator,
  type OctopusSimulator,
} from '../../dev/octopus-sim/index.js';

type Json = Record<string, unknown>;
let sim: OctopusSimulator;

async function api(
  path: string,
  init: { method?: string; body?: unknown; signal?: AbortSignal } = {},
) {
  const response = await fetch(`${sim.url}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'X-Octopus-ApiKey': sim.apiKey, 'Content-Type': 'application/json' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: init.signal,
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: (text ? JSON.parse(text) : undefined) as Json,
  };
}

async function control(path: string, body?: unknown) {
  const response = await fetch(`${sim.url}/_sim/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Json };
}

async function ids(): Promise<Record<string, string>> {
  const map: Record<string, string> = {};
  for (const kind of ['projects', 'environments', 'tenants']) {
    const items = (await api(`/api/Spaces-1/${kind}/all`)).json as unknown as Json[];
    for (const item of items) map[String(item.Name)] = String(item.Id);
  }
  return map;
}

async function deploy(
  project: string,
  version: string,
  environment: string,
  extra: Json = {},
): Promise<Json> {
  const names = await ids();
  const release = (await api(`/api/Spaces-1/projects/${names[project]}/releases/${version}`)).json;
  const response = await api('/api/Spaces-1/deployments', {
    method: 'POST',
    body: { ReleaseId: release.Id, EnvironmentId: names[environment], ...extra },
  });
  if (response.status !== 201)
    throw new Error(`deploy answered ${response.status}: ${JSON.stringify(response.json)}`);
  return response.json;
}

const task = async (id: unknown): Promise<Json> => (await api(`/api/tasks/${String(id)}`)).json;
const steps = async (id: unknown): Promise<string[]> => {
  const details = (await api(`/api/Spaces-1/tasks/${String(id)}/details`)).json;
  const root = (details.ActivityLogs as Json[])[0];
  return (root?.Children as Json[]).map((c) => String(c.Status));
};
const advance = (ms: number) => sim.clock({ action: 'advance', ms });

interface Received {
  headers: http.IncomingHttpHeaders;
  payload: Json;
}

async function receiver(
  answer: (index: number, payload: Json) => Promise<number> | number = () => 200,
) {
  const received: Received[] = [];
  const server = http.createServer((request, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString()));
    request.on('end', () => {
      const body = JSON.parse(text) as Json;
      const payload = body.Payload as Json;
      received.push({ headers: request.headers, payload });
      void Promise.resolve(answer(received.length - 1, payload)).then((status) => {
        if (!response.destroyed) response.writeHead(status).end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return {
    url,
    received,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

async function subscribe(url: string, categories: string[], timeout = '00:00:10'): Promise<Json> {
  const response = await api('/api/Spaces-1/subscriptions', {
    method: 'POST',
    body: {
      name: `test-${Math.random()}`,
      eventNotificationSubscription: {
        filter: { eventCategories: categories },
        webhookUri: url,
        webhookTimeout: timeout,
        webhookHeaderKey: 'X-Secret',
        webhookHeaderValue: 'abc',
      },
    },
  });
  expect(response.status).toBe(201);
  return response.json;
}

// A batch interval so long that no batch is due while a test advances the clock.
const oneBatch = 1e12;
const eventIdOf = (r: Received) => String((r.payload.Event as Json).Id);

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0, idOffset: 0 });
});

afterAll(async () => {
  await sim?.stop();
});

beforeEach(async () => {
  expect((await control('scenario', {})).status).toBe(400); // an empty scenario is refused with a reason
  sim.faults({ clear: true });
  sim.clock({ action: 'pause' });
  sim.loadScenario(sampleScenario);
  sim.setStepDuration({ ms: 1000 });
});

afterEach(() => {
  sim.clock({ action: 'resume' });
});

describe('task life cycle', () => {
  it('runs Queued -> Executing -> Success step by step, honouring QueueTime', async () => {
    const queueTime = new Date(sim.now() + 5000).toISOString();
    const deployment = await deploy('Database', '1.6.0', 'Production', { QueueTime: queueTime });
    expect((await task(deployment.TaskId)).State).toBe('Queued');
    expect(await steps(deployment.TaskId)).toEqual(['Pending', 'Pending', 'Pending']);
    advance(5000);
    expect((await task(deployment.TaskId)).State).toBe('Executing');
    expect(await steps(deployment.TaskId)).toEqual(['Running', 'Pending', 'Pending']);
    advance(1000);
    expect(await steps(deployment.TaskId)).toEqual(['Success', 'Running', 'Pending']);
    advance(2000);
    const done = await task(deployment.TaskId);
    expect(done.State).toBe('Success');
    expect(Date.parse(String(done.CompletedTime)) - Date.parse(String(done.StartTime))).toBe(3000);
    expect(await steps(deployment.TaskId)).toEqual(['Success', 'Success', 'Success']);
    const events = (await api(`/api/Spaces-1/events?regarding=${String(deployment.Id)}`)).json
      .Items as Json[];
    expect(events.map((e) => e.Category).reverse()).toEqual([
      'DeploymentQueued',
      'DeploymentStarted',
      'DeploymentSucceeded',
    ]);
  });

  it('times a queued task out when QueueTimeExpiry passes', async () => {
    const deployment = await deploy('Database', '1.6.0', 'Production', {
      QueueTime: new Date(sim.now() + 60_000).toISOString(),
      QueueTimeExpiry: new Date(sim.now() + 30_000).toISOString(),
    });
    advance(30_000);
    const timedOut = await task(deployment.TaskId);
    expect(timedOut.State).toBe('TimedOut');
    expect(timedOut.StartTime).toBeNull();
  });

  it('runs a whole deployment in real time with short steps', async () => {
    sim.setStepDuration({ ms: 20 });
    sim.clock({ action: 'resume' });
    const deployment = await deploy('Web API', '2.18.0', 'Production');
    let state = '';
    for (let i = 0; i < 100 && state !== 'Success'; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      state = String((await task(deployment.TaskId)).State);
    }
    expect(state).toBe('Success');
  });
});

describe('queueing per concurrency tag', () => {
  it('runs one task per project/environment/tenant and queues the rest; tenants run in parallel', async () => {
    const first = await deploy('Web App', '3.2.0', 'Development');
    const second = await deploy('Web App', '3.2.0', 'Development');
    const other = await deploy('Web API', '2.18.0', 'Development');
    expect((await task(first.TaskId)).State).toBe('Executing');
    expect((await task(second.TaskId)).State).toBe('Queued');
    expect((await task(other.TaskId)).State).toBe('Executing');
    const n = await ids();
    const acme = await deploy('Billing Worker', '1.0.0', 'Development', {
      TenantId: n['Acme Corp'],
    });
    const globex = await deploy('Billing Worker', '1.0.0', 'Development', { TenantId: n.Globex });
    expect((await task(acme.TaskId)).State).toBe('Executing');
    expect((await task(globex.TaskId)).State).toBe('Executing');

    advance(3000); // Web App's three steps
    expect((await task(first.TaskId)).State).toBe('Success');
    expect((await task(second.TaskId)).State).toBe('Executing');
    advance(3000);
    expect((await task(second.TaskId)).State).toBe('Success');
  });
});

describe('cancel', () => {
  it('cancels a queued task at once and an executing one through Cancelling', async () => {
    const running = await deploy('Database', '1.6.0', 'Production');
    const waiting = await deploy('Database', '1.6.0', 'Production');
    const cancelQueued = await api(`/api/tasks/${String(waiting.TaskId)}/cancel`, {
      method: 'POST',
    });
    expect(cancelQueued.status).toBe(200);
    expect(cancelQueued.json.State).toBe('Canceled');

    advance(500);
    const cancelling = await api(`/api/tasks/${String(running.TaskId)}/cancel`, { method: 'POST' });
    expect(cancelling.json.State).toBe('Cancelling');
    advance(1000);
    expect((await task(running.TaskId)).State).toBe('Canceled');
    expect(await steps(running.TaskId)).toEqual(['Canceled', 'Skipped', 'Skipped']);
    expect((await api('/api/tasks/ServerTasks-999999/cancel', { method: 'POST' })).status).toBe(
      404,
    );
  });
});

describe('scripted outcomes', () => {
  it('fails the next deployment of a project to an environment at the given step, once', async () => {
    const scripted = await control('script', {
      project: 'Database',
      environment: 'Production',
      outcome: 'fail',
      failAtStep: 2,
    });
    expect(scripted.status).toBe(200);
    const failing = await deploy('Database', '1.6.0', 'Production');
    advance(10_000);
    const failed = await task(failing.TaskId);
    expect(failed.State).toBe('Failed');
    expect(String(failed.ErrorMessage)).toContain('Apply migrations');
    expect(await steps(failing.TaskId)).toEqual(['Success', 'Failed', 'Skipped']);
    const events = (
      await api(
        `/api/Spaces-1/events?regarding=${String(failing.Id)}&eventCategories=DeploymentFailed`,
      )
    ).json;
    expect(events.TotalResults).toBe(1);

    const next = await deploy('Database', '1.6.0', 'Production');
    advance(10_000);
    expect((await task(next.TaskId)).State).toBe('Success');
  });

  it('answers bad control requests with 400 and a reason', async () => {
    const unknown = await control('script', { project: 'Nope', environment: 'Production' });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.json)).toContain('Nope');
    expect((await control('clock', { action: 'rewind' })).status).toBe(400);
    expect((await control('no-such-thing', {})).status).toBe(404);
  });
});

describe('webhooks', () => {
  it('sends each batch one POST per event, numbered in order, with the custom header', async () => {
    const hook = await receiver();
    try {
      await subscribe(hook.url, ['DeploymentQueued', 'DeploymentStarted', 'DeploymentSucceeded']);
      await deploy('Web API', '2.18.0', 'Production');
      advance(10_000);
      await sim.flushWebhooks();
      expect(hook.received.length).toBe(3);
      const batches = new Map<string, Received[]>();
      for (const r of hook.received)
        batches.set(String(r.payload.BatchId), [
          ...(batches.get(String(r.payload.BatchId)) ?? []),
          r,
        ]);
      for (const batch of batches.values()) {
        expect(batch.map((r) => r.payload.EventNumberInBatch)).toEqual(batch.map((_, i) => i + 1));
        for (const r of batch) expect(r.payload.TotalEventsInBatch).toBe(batch.length);
      }
      expect(hook.received.every((r) => r.headers['x-secret'] === 'abc')).toBe(true);
    } finally {
      await hook.close();
    }
  });

  it('gathers events on the batch interval while the clock runs', async () => {
    const hook = await receiver();
    try {
      sim.setWebhookBatchInterval({ ms: 50 });
      await subscribe(hook.url, ['DeploymentQueued']);
      sim.clock({ action: 'resume' });
      await deploy('Web API', '2.18.0', 'Production');
      for (let i = 0; i < 100 && hook.received.length === 0; i += 1)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(hook.received.map((r) => (r.payload.Event as Json).Category)).toEqual([
        'DeploymentQueued',
      ]);
    } finally {
      await hook.close();
    }
  });

  it('sends a POST again after it exceeds WebhookTimeout (a duplicate)', async () => {
    const hook = await receiver(async (index) => {
      if (index === 0) await new Promise((resolve) => setTimeout(resolve, 600));
      return 200;
    });
    try {
      await subscribe(hook.url, ['DeploymentQueued'], '00:00:00.200');
      await deploy('Web API', '2.18.0', 'Production');
      await sim.flushWebhooks();
      expect(hook.received.length).toBe(2);
      expect(eventIdOf(hook.received[0] as Received)).toBe(eventIdOf(hook.received[1] as Received));
    } finally {
      await hook.close();
    }
  });

  it('drops the rest of a batch for good after a failed POST', async () => {
    const hook = await receiver((index) => (index === 0 ? 500 : 200));
    try {
      sim.setWebhookBatchInterval({ ms: oneBatch }); // everything goes in the batch flushWebhooks() makes
      await subscribe(hook.url, ['DeploymentQueued', 'DeploymentStarted', 'DeploymentSucceeded']);
      await deploy('Web API', '2.18.0', 'Production');
      advance(10_000);
      await sim.flushWebhooks();
      expect(hook.received.length).toBe(1);
      await deploy('Web API', '2.18.0', 'Production');
      advance(10_000);
      await sim.flushWebhooks();
      // The next batch arrives; the two dropped events never do.
      expect(hook.received.length).toBe(4);
      const categories = hook.received.slice(1).map((r) => (r.payload.Event as Json).Category);
      expect(categories).toEqual(['DeploymentQueued', 'DeploymentStarted', 'DeploymentSucceeded']);
      const skipped = sim.webhookDeliveries().filter((d) => d.outcome === 'skipped');
      expect(skipped.length).toBe(2);
    } finally {
      await hook.close();
    }
  });

  it('applies webhook faults: drop, duplicate and fail', async () => {
    const hook = await receiver();
    try {
      sim.setWebhookBatchInterval({ ms: oneBatch });
      await subscribe(hook.url, ['DeploymentQueued', 'DeploymentStarted', 'DeploymentSucceeded']);
      sim.faults({
        faults: [
          { type: 'webhook', mode: 'drop', category: 'DeploymentQueued' },
          { type: 'webhook', mode: 'duplicate', category: 'DeploymentSucceeded' },
        ],
      });
      await deploy('Web API', '2.18.0', 'Production');
      advance(10_000);
      await sim.flushWebhooks();
      expect(hook.received.map((r) => (r.payload.Event as Json).Category)).toEqual([
        'DeploymentStarted',
        'DeploymentSucceeded',
        'DeploymentSucceeded',
      ]);

      sim.faults({ type: 'webhook', mode: 'fail' });
      await deploy('Web API', '2.18.0', 'Production');
      advance(10_000);
      await sim.flushWebhooks();
      expect(hook.received.length).toBe(3);
    } finally {
      await hook.close();
    }
  });
});

describe('HTTP faults', () => {
  it('answers 5xx for N requests matching a path, then recovers', async () => {
    sim.faults({ type: 'error', status: 503, count: 2, path: '/projects/all$' });
    expect((await api('/api/Spaces-1/projects/all')).status).toBe(503);
    expect((await api('/api/Spaces-1/environments/all')).status).toBe(200);
    expect((await api('/api/Spaces-1/projects/all')).status).toBe(503);
    expect((await api('/api/Spaces-1/projects/all')).status).toBe(200);
  });

  it('answers 429 with Retry-After and an Octopus error body', async () => {
    await control('faults', { type: 'rateLimit', retryAfterSeconds: 7 });
    const limited = await api('/api/Spaces-1/projects/all');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(limited.json.ErrorMessage).toBeTypeOf('string');
    expect((await api('/api/Spaces-1/projects/all')).status).toBe(200);
  });

  it('delays a slow response past a client timeout', async () => {
    sim.faults({ type: 'delay', delayMs: 1000, path: '/environments/all$' });
    const aborted = await api('/api/Spaces-1/environments/all', {
      signal: AbortSignal.timeout(100),
    }).catch((e: unknown) => e);
    expect(aborted).toBeInstanceOf(Error);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  });
});

describe('request counts', () => {
  it('counts API requests per templated endpoint, not control calls, and resets', async () => {
    await control('requests/reset', {});
    await api('/api/Spaces-1/projects/all');
    await api('/api/Spaces-1/projects/all');
    await api('/api/Spaces-1/deployments?take=1');
    await api('/api/tasks/ServerTasks-1001');
    await deploy('Web API', '2.18.0', 'Development');
    await fetch(`${sim.url}/api/Spaces-1/projects`); // no key: still a call
    const counts = (await control('requests')).json as {
      total: number;
      byEndpoint: Record<string, number>;
    };
    expect(counts.byEndpoint['GET /api/{spaceId}/projects/all']).toBe(2 + 1); // deploy() resolves names too
    expect(counts.byEndpoint['GET /api/{spaceId}/deployments']).toBe(1);
    expect(counts.byEndpoint['GET /api/tasks/{id}']).toBe(1);
    expect(counts.byEndpoint['POST /api/{spaceId}/deployments']).toBe(1);
    expect(counts.byEndpoint['GET /api/{spaceId}/projects/{projectId}/releases/{version}']).toBe(1);
    expect(counts.byEndpoint['GET /api/{spaceId}/projects']).toBe(1);
    expect(counts.total).toBe(Object.values(counts.byEndpoint).reduce((a, b) => a + b, 0));
    expect(sim.resetRequests().total).toBe(0);
  });
});

describe('control API', () => {
  it('creates releases, sets step durations per project and loads custom scenarios', async () => {
    const created = await control('releases', { project: 'Web App' });
    expect(created.status).toBe(200);
    expect(created.json.Version).toBe('3.2.1'); // the newest release's last number plus one
    const latest = (
      await api(`/api/Spaces-1/projects/${String(created.json.ProjectId)}/releases?take=1`)
    ).json.Items as Json[];
    expect(latest[0]?.Id).toBe(created.json.Id);

    await control('step-duration', { ms: 100, project: 'Web App' });
    const deployment = await deploy('Web App', '3.2.1', 'Development');
    advance(300);
    expect((await task(deployment.TaskId)).State).toBe('Success');

    const loaded = await control('scenario', {
      environments: ['Dev', 'Prod'],
      projects: [{ name: 'Solo', steps: ['Only step'] }],
      releases: [{ project: 'Solo', version: '0.1.0' }],
      history: [{ project: 'Solo', release: '0.1.0', environment: 'Dev', minutesAgo: 60 }],
    });
    expect(loaded.json).toEqual({ projects: 1, environments: 2, deployments: 1 });
    const state = (await control('state')).json;
    expect((state.projects as Json[]).map((p) => p.name)).toEqual(['Solo']);
  });

  it('creates and deploys new releases in live mode', async () => {
    const live = await startOctopusSimulator({ port: 0, live: { intervalMs: 1000 } });
    try {
      live.clock({ action: 'pause' });
      const before = (live.state().counts as Json).deployments as number;
      live.clock({ action: 'advance', ms: 1000 });
      const after = live.state().counts as Json;
      expect(after.releases).toBe(11);
      expect(after.deployments as number).toBeGreaterThan(before);
    } finally {
      await live.stop();
    }
  });
});

describe('ids across restarts (a second npm start against the same Azurite)', () => {
  it('a simulator started later never reuses an event, deployment or task id of an earlier one', async () => {
    const idNumber = (id: unknown) => Number(String(id).replace(/^\D+-/, ''));
    const newest = async (s: { url: string; apiKey: string }) => {
      const headers = { 'X-Octopus-ApiKey': s.apiKey };
      const events = (await (
        await fetch(`${s.url}/api/Spaces-1/events?take=1`, { headers })
      ).json()) as { Items: { Id: string }[] };
      const deployments = (await (
        await fetch(`${s.url}/api/Spaces-1/deployments?take=1`, { headers })
      ).json()) as { Items: { Id: string; TaskId: string }[] };
      return {
        event: idNumber(events.Items[0]?.Id),
        deployment: idNumber(deployments.Items[0]?.Id),
        task: idNumber(deployments.Items[0]?.TaskId),
      };
    };
    const first = await startOctopusSimulator({ port: 0 });
    const before = await newest(first);
    await first.stop();
    // The offset grows a hundred ids a second: a restart a second later starts above the first run.
    await new Promise((r) => setTimeout(r, 1100));
    const second = await startOctopusSimulator({ port: 0 });
    try {
      const after = await newest(second);
      // The scenario's history is the same; its ids must not be.
      expect(after.event).toBeGreaterThan(before.event);
      expect(after.deployment).toBeGreaterThan(before.deployment);
      expect(after.task).toBeGreaterThan(before.task);
    } finally {
      await second.stop();
    }
  });
});
