// The Octopus client against the simulator (in-process, port 0): every endpoint, paging, faults, counting.
import { inspect } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startOctopusSimulator } from '../../dev/octopus-sim/index.js';
import { collect } from '../../shared/octopus/paging.js';
import {
  createOctopusClient,
  type OctopusClient,
  type OctopusClientOptions,
} from '../../shared/octopus/client.js';
import { dashboardCell } from '../../shared/octopus/dashboard.js';
import { OctopusError } from '../../shared/octopus/errors.js';
import { stepProgress } from '../../shared/octopus/taskProgress.js';

let sim: { url: string; apiKey: string; stop: () => Promise<void> };
let client: OctopusClient;
let sleeps: number[];
let logs: string[];

function makeClient(overrides: Partial<OctopusClientOptions> = {}): OctopusClient {
  return createOctopusClient({
    url: sim.url,
    apiKey: sim.apiKey,
    space: 'Default',
    retryBaseMs: 1,
    maxRetries: 3,
    // Record the waits instead of waiting: the tests assert what was asked, not how long it took.
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    log: (level, message) => logs.push(`${level} ${message}`),
    ...overrides,
  });
}

async function control(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${sim.url}/_sim/${path}`, {
    method,
    headers: { 'X-Octopus-ApiKey': sim.apiKey, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok)
    throw new Error(`simulator control ${method} ${path}: ${response.status} ${text}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0 });
});

afterAll(async () => {
  await sim?.stop();
});

beforeEach(() => {
  sleeps = [];
  logs = [];
  client = makeClient();
});

describe('spaces and the root document', () => {
  it('resolves the space by name once and answers the root', async () => {
    const root = await client.root();
    expect(root.Version).toMatch(/\d/);
    expect(await client.spaceId()).toBe('Spaces-1');
    await client.projects.all();
    await client.environments.all();
    expect(client.calls.byEndpoint()['GET /api/spaces/all']).toBe(1);
    const spaces = await client.spaces.all();
    expect(spaces.map((s) => s.Name)).toContain('Default');
    expect((await client.spaces.get('Spaces-1')).Name).toBe('Default');
  });

  it('uses a space id without looking it up', async () => {
    const byId = makeClient({ space: 'Spaces-1' });
    await byId.projects.all();
    expect(byId.calls.byEndpoint()).toEqual({ 'GET /api/{spaceId}/projects/all': 1 });
  });

  it('says which spaces exist when the configured one does not', async () => {
    const wrong = makeClient({ space: 'Nope' });
    const error = await wrong.projects.all().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OctopusError);
    expect((error as OctopusError).code).toBe('NameNotFound');
    expect((error as OctopusError).message).toContain("Space 'Nope' was not found");
    expect((error as OctopusError).message).toContain('Default');
  });

  it('reports a refused key as a 401 without the key in any text', async () => {
    const badKey = 'API-WRONGWRONGWRONGWRONG1';
    const bad = makeClient({ apiKey: badKey, space: 'Spaces-1' });
    const error = (await bad.projects.all().catch((e: unknown) => e)) as OctopusError;
    expect(error).toBeInstanceOf(OctopusError);
    expect(error.status).toBe(401);
    expect(error.retryable).toBe(false);
    for (const text of [
      error.message,
      JSON.stringify(error),
      inspect(error, { depth: 5 }),
      String(error.stack),
      ...logs,
    ]) {
      expect(text).not.toContain(badKey);
      expect(text).not.toContain(sim.apiKey);
    }
    expect(inspect(client, { depth: 10, showHidden: true })).not.toContain(sim.apiKey);
    expect(JSON.stringify(client)).not.toContain(sim.apiKey);
  });
});

describe('projects, environments, tenants, lifecycles, channels', () => {
  it('lists projects with /all, paged lists and get', async () => {
    const all = await client.projects.all();
    expect(all.map((p) => p.Name)).toEqual(
      expect.arrayContaining(['Database', 'Web API', 'Web App', 'Billing Worker']),
    );
    client.calls.reset();
    const paged = await collect(client.projects.list({ pageSize: 1 }));
    expect(paged.map((p) => p.Id)).toEqual(all.map((p) => p.Id));
    expect(client.calls.byEndpoint()['GET /api/{spaceId}/projects']).toBe(all.length);
    const billing = all.find((p) => p.Name === 'Billing Worker');
    expect(billing?.TenantedDeploymentMode).toBe('Tenanted');
    const one = await client.projects.get(all[0]?.Id ?? '');
    expect(one.Id).toBe(all[0]?.Id);
    const filtered = await collect(client.projects.list({ partialName: 'Web' }));
    expect(filtered.map((p) => p.Name).sort()).toEqual(['Web API', 'Web App']);
  });

  it('lists environments in sort order, tenants and lifecycles', async () => {
    const envs = await client.environments.all();
    expect(envs.map((e) => e.Name)).toEqual(['Development', 'Test', 'Production']);
    expect((await collect(client.environments.list({ pageSize: 2 }))).map((e) => e.Id)).toEqual(
      envs.map((e) => e.Id),
    );
    expect((await client.environments.get(envs[2]?.Id ?? '')).Name).toBe('Production');

    const tenants = await client.tenants.all();
    expect(tenants.map((t) => t.Name)).toEqual(['Acme Corp', 'Globex']);
    expect((await collect(client.tenants.list())).length).toBe(2);
    expect((await client.tenants.get(tenants[0]?.Id ?? '')).Name).toBe('Acme Corp');

    const lifecycles = await client.lifecycles.all();
    expect(lifecycles.length).toBeGreaterThan(0);
    const lifecycle = await client.lifecycles.get(lifecycles[0]?.Id ?? '');
    expect(lifecycle.Phases.length).toBeGreaterThan(0);
    expect((await collect(client.lifecycles.list())).length).toBe(lifecycles.length);
  });

  it('lists and gets channels of a project', async () => {
    const projectId = await client.resolve.projectId('Web API');
    const channels = await collect(client.channels.listForProject(projectId));
    expect(channels.length).toBeGreaterThan(0);
    expect(channels.every((c) => c.ProjectId === projectId)).toBe(true);
    expect((await client.channels.get(channels[0]?.Id ?? '')).ProjectId).toBe(projectId);
  });
});

describe('names to ids', () => {
  it('resolves names, slugs and ids with one /all call per kind', async () => {
    const projects = await client.projects.all();
    client.calls.reset();
    const web = projects.find((p) => p.Name === 'Web API');
    expect(await client.resolve.projectId('Web API')).toBe(web?.Id);
    expect(await client.resolve.projectId(web?.Slug ?? '')).toBe(web?.Id);
    expect(await client.resolve.projectId(web?.Id ?? '')).toBe(web?.Id);
    expect(await client.resolve.environmentId('Production')).toMatch(/^Environments-\d+$/);
    expect(await client.resolve.tenantId('acme corp')).toMatch(/^Tenants-\d+$/);
    expect(client.calls.byEndpoint()).toEqual({
      'GET /api/{spaceId}/projects/all': 1,
      'GET /api/{spaceId}/environments/all': 1,
      'GET /api/{spaceId}/tenants/all': 1,
    });
  });

  it('refreshes once on a miss and then names what exists', async () => {
    await client.resolve.projectId('Database');
    client.calls.reset();
    const error = (await client.resolve
      .projectId('Payments')
      .catch((e: unknown) => e)) as OctopusError;
    expect(error.code).toBe('NameNotFound');
    expect(error.message).toMatch(
      /^Project 'Payments' was not found in space 'Default' \(known: .*Database.*\)/,
    );
    expect(client.calls.byEndpoint()).toEqual({ 'GET /api/{spaceId}/projects/all': 1 });
  });
});

describe('releases', () => {
  it('lists, finds by version, gets by ids, latest, deployments and template', async () => {
    const projectId = await client.resolve.projectId('Web API');
    const releases = await collect(client.releases.listForProject(projectId, { pageSize: 2 }));
    expect(releases.length).toBeGreaterThan(1);
    const newest = releases[0];
    if (!newest) throw new Error('no releases in the sample scenario');
    expect((await client.releases.latest(projectId))?.Id).toBe(newest.Id);
    expect((await client.releases.byVersion(projectId, newest.Version))?.Id).toBe(newest.Id);
    expect(await client.releases.byVersion(projectId, '0.0.0-missing')).toBeUndefined();
    expect((await client.releases.get(newest.Id)).Version).toBe(newest.Version);
    const many = await client.releases.getMany(releases.map((r) => r.Id));
    expect(many.map((r) => r.Id).sort()).toEqual(releases.map((r) => r.Id).sort());
    const searched = await collect(
      client.releases.listForProject(projectId, { searchByVersion: newest.Version }),
    );
    expect(searched.map((r) => r.Id)).toContain(newest.Id);
    const channelId = newest.ChannelId ?? '';
    expect((await client.releases.latest(projectId, { channelId }))?.ChannelId).toBe(channelId);
    const template = await client.releases.deploymentTemplate(newest.Id);
    expect(Array.isArray(template.PromoteTo)).toBe(true);
    const deployments = await collect(
      client.releases.deployments(releases[releases.length - 1]?.Id ?? ''),
    );
    expect(deployments.every((d) => d.ReleaseId === releases[releases.length - 1]?.Id)).toBe(true);
  });
});

describe('deployments, tasks and progress', () => {
  it('creates a deployment, follows its task and reads step progress', async () => {
    const projectId = await client.resolve.projectId('Database');
    const environmentId = await client.resolve.environmentId('Development');
    const release = await client.releases.latest(projectId);
    if (!release) throw new Error('no Database release');
    const marker = `coordinator run=it-${Date.now()} action=deploy-db`;
    const created = await client.deployments.create({
      ReleaseId: release.Id,
      ProjectId: projectId,
      ChannelId: release.ChannelId,
      EnvironmentId: environmentId,
      Comments: marker,
    });
    expect(created.Id).toMatch(/^Deployments-\d+$/);
    expect(created.TaskId).toMatch(/^ServerTasks-\d+$/);
    expect((await client.deployments.get(created.Id)).Comments).toBe(marker);
    expect((await client.deployments.findByMarker({ projectId, environmentId, marker }))?.Id).toBe(
      created.Id,
    );
    const listed = await collect(
      client.deployments.list({
        projects: [projectId],
        environments: [environmentId],
        maxItems: 5,
      }),
    );
    expect(listed[0]?.Id).toBe(created.Id);
    expect((await client.deployments.getMany([created.Id])).map((d) => d.Id)).toEqual([created.Id]);

    const task = await client.tasks.get(created.TaskId);
    expect(['Queued', 'Executing', 'Success', 'Failed']).toContain(task.State);
    const details = await client.tasks.details(created.TaskId);
    expect(details.Task.Id).toBe(created.TaskId);
    const progress = stepProgress(details);
    expect(progress.steps.length).toBeGreaterThan(0);
    expect(progress.steps[0]?.number).toBe(1);

    const cancelled = await client.tasks.cancel(created.TaskId);
    expect(['Cancelling', 'Canceled', 'Success', 'Failed']).toContain(cancelled.State);
  });

  it('lists deployments across several pages with comma-list filters', async () => {
    const all = await collect(client.deployments.list({ pageSize: 100 }));
    expect(all.length).toBeGreaterThan(4);
    client.calls.reset();
    const paged = await collect(client.deployments.list({ pageSize: 3 }));
    expect(paged.map((d) => d.Id)).toEqual(all.map((d) => d.Id));
    expect(client.calls.byEndpoint()['GET /api/{spaceId}/deployments']).toBe(
      Math.ceil(all.length / 3),
    );
    const twoProjects = [...new Set(all.map((d) => d.ProjectId))].slice(0, 2);
    const filtered = await collect(
      client.deployments.list({ projects: twoProjects, pageSize: 100 }),
    );
    expect(filtered.length).toBe(all.filter((d) => twoProjects.includes(d.ProjectId)).length);
    const succeeded = await collect(client.deployments.list({ taskState: 'Success', maxItems: 3 }));
    expect(succeeded.length).toBeGreaterThan(0);
  });

  it('lists tasks by state, type and completion date, and gets many by ids in batches', async () => {
    const done = await collect(
      client.tasks.list({ name: 'Deploy', states: ['Success', 'Failed'], maxItems: 10 }),
    );
    expect(done.length).toBeGreaterThan(0);
    expect(done.every((t) => t.State === 'Success' || t.State === 'Failed')).toBe(true);
    const inWindow = await collect(
      client.tasks.list({
        name: 'Deploy',
        fromCompletedDate: new Date(0),
        toCompletedDate: new Date(Date.now() + 86_400_000),
      }),
    );
    expect(inWindow.length).toBeGreaterThanOrEqual(done.length > 0 ? 1 : 0);
    expect(inWindow.every((t) => t.CompletedTime)).toBe(true);
    const none = await collect(
      client.tasks.list({ name: 'Deploy', fromCompletedDate: new Date(Date.now() + 86_400_000) }),
    );
    expect(none).toEqual([]);
    client.calls.reset();
    const ids = done.slice(0, 3).map((t) => t.Id);
    const many = await client.tasks.getMany(ids, { batchSize: 2 });
    expect(many.map((t) => t.Id).sort()).toEqual([...ids].sort());
    expect(client.calls.byEndpoint()['GET /api/{spaceId}/tasks']).toBe(Math.ceil(ids.length / 2));
  });
});

describe('dashboards, events, interruptions, runbooks, progression', () => {
  it('reads current and previous deployments from the dashboards', async () => {
    const dashboard = await client.dashboard.get();
    expect(dashboard.Items.length).toBeGreaterThan(0);
    expect(dashboard.Items.every((i) => i.IsCurrent)).toBe(true);
    const projectId = await client.resolve.projectId('Web API');
    const dynamic = await client.dashboard.dynamic({
      projects: [projectId],
      includePrevious: true,
    });
    expect(dynamic.Items.every((i) => i.ProjectId === projectId)).toBe(true);
    expect(dynamic.IsFiltered).toBe(true);
    const item = dynamic.Items.find((i) => i.IsCurrent);
    if (!item) throw new Error('Web API has no current deployment in the sample scenario');
    const cell = dashboardCell(dynamic, {
      projectId,
      environmentId: item.EnvironmentId,
      tenantId: item.TenantId,
    });
    expect(cell.current?.Id).toBe(item.Id);
    if (cell.current?.State !== 'Success')
      expect(cell.lastSuccessful?.IsPrevious ?? true).toBe(true);
  });

  it('pages through events and filters them by what they are about', async () => {
    const deployment = (await collect(client.deployments.list({ maxItems: 1 })))[0];
    if (!deployment) throw new Error('no deployments');
    const about = await collect(client.events.list({ regarding: [deployment.Id] }));
    expect(about.length).toBeGreaterThan(0);
    expect(about.every((e) => e.RelatedDocumentIds.includes(deployment.Id))).toBe(true);
    const recent = await collect(client.events.list({ pageSize: 5, maxItems: 12 }));
    expect(recent.length).toBe(12);
    expect((await client.events.get(recent[0]?.Id ?? '')).Id).toBe(recent[0]?.Id);
    const categories = await collect(
      client.events.list({ eventCategories: ['DeploymentSucceeded'], maxItems: 5 }),
    );
    expect(categories.every((e) => e.Category === 'DeploymentSucceeded')).toBe(true);
  });

  it('lists interruptions', async () => {
    const pending = await collect(client.interruptions.list({ pendingOnly: true }));
    expect(Array.isArray(pending)).toBe(true);
  });

  it('lists runbooks and starts a run', async () => {
    const projects = await client.projects.all();
    let runbook;
    for (const p of projects) {
      runbook ??= (await collect(client.runbooks.listForProject(p.Id)))[0];
    }
    if (!runbook) return; // the sample scenario may have no runbooks
    expect((await client.runbooks.get(runbook.Id)).Name).toBe(runbook.Name);
    const environmentId = await client.resolve.environmentId('Development');
    const run = await client.runbooks.run({
      RunbookId: runbook.Id,
      EnvironmentId: environmentId,
      Comments: `it-run-${Date.now()}`,
    });
    expect(run.TaskId).toMatch(/^ServerTasks-\d+$/);
    expect((await client.runbooks.getRun(run.Id)).Id).toBe(run.Id);
    const runs = await collect(client.runbooks.listRuns({ runbooks: [runbook.Id] }));
    expect(runs.map((r) => r.Id)).toContain(run.Id);
  });

  it('reads a project progression', async () => {
    const projectId = await client.resolve.projectId('Web API');
    const progression = await client.progression.get(projectId, { releaseHistoryCount: 2 });
    expect(Array.isArray(progression.Releases)).toBe(true);
  });
});

describe('faults and retries', () => {
  it('waits as Retry-After says after a 429, then succeeds', async () => {
    await client.spaceId();
    await control('POST', 'faults', {
      type: 'rateLimit',
      method: 'GET',
      path: '^/api/Spaces-1/environments/all$',
      retryAfterSeconds: 2,
      count: 1,
    });
    const envs = await client.environments.all();
    expect(envs.length).toBe(3);
    expect(sleeps).toEqual([2000]);
    expect(client.calls.byEndpoint()['GET /api/{spaceId}/environments/all']).toBe(2);
  });

  it('retries a GET after a 5xx', async () => {
    await client.spaceId();
    await control('POST', 'faults', {
      type: 'error',
      method: 'GET',
      path: '^/api/Spaces-1/projects/all$',
      status: 503,
      count: 2,
    });
    expect((await client.projects.all()).length).toBe(4);
    expect(client.calls.byEndpoint()['GET /api/{spaceId}/projects/all']).toBe(3);
    expect(logs.some((l) => l.startsWith('warn') && l.includes('503'))).toBe(true);
  });

  it('surfaces Octopus error bodies in OctopusError', async () => {
    const error = (await client.deployments
      .get('Deployments-999999')
      .catch((e: unknown) => e)) as OctopusError;
    expect(error).toBeInstanceOf(OctopusError);
    expect(error.status).toBe(404);
    expect(error.method).toBe('GET');
    expect(error.path).toBe('/api/Spaces-1/deployments/Deployments-999999');
    expect(error.errorMessage).toBeTruthy();
    expect(error.message).toContain(error.errorMessage);
    expect(client.calls.byEndpoint()['GET /api/{spaceId}/deployments/{id}']).toBe(1); // 404 is not retried

    const projectId = await client.resolve.projectId('Database');
    const release = await client.releases.latest(projectId);
    const invalid = (await client.deployments
      .create({
        ReleaseId: release?.Id ?? '',
        ProjectId: projectId,
        EnvironmentId: 'Environments-999',
        Comments: 'bad env',
      })
      .catch((e: unknown) => e)) as OctopusError;
    expect(invalid).toBeInstanceOf(OctopusError);
    expect(invalid.status).toBeGreaterThanOrEqual(400);
    expect(invalid.status).toBeLessThan(500);
    expect(invalid.errorMessage).toBeTruthy();
    expect(client.calls.byEndpoint()['POST /api/{spaceId}/deployments']).toBe(1);
  });

  it('does not blindly repeat a create that timed out: it lets the server settle, checks, then decides', async () => {
    const order: string[] = [];
    // Real waits here: the settle time after a timeout is what gives the first request its chance.
    const slow = makeClient({
      timeoutMs: 300,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      log: (level, message) => order.push(`${level} ${message}`),
    });
    const projectId = await slow.resolve.projectId('Web App');
    const environmentId = await slow.resolve.environmentId('Development');
    const release = await slow.releases.latest(projectId);
    if (!release) throw new Error('no Web App release');
    await control('POST', 'faults', {
      type: 'delay',
      method: 'POST',
      path: '^/api/Spaces-1/deployments$',
      delayMs: 1000,
      count: 1,
    });
    const marker = `coordinator run=timeout-${Date.now()}`;
    const created = await slow.deployments.create({
      ReleaseId: release.Id,
      ProjectId: projectId,
      EnvironmentId: environmentId,
      Comments: marker,
    });
    // Let the slow first request run its course on the simulator, then count what exists.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const withMarker = (
      await collect(
        client.deployments.list({
          projects: [projectId],
          environments: [environmentId],
          maxItems: 30,
        }),
      )
    ).filter((d) => d.Comments === marker);
    expect(withMarker.map((d) => d.Id)).toEqual([created.Id]);
    const counts = slow.calls.byEndpoint();
    expect(counts['GET /api/{spaceId}/deployments']).toBe(1); // the check, between the attempts
    const decided = order.filter(
      (l) => l.includes('not repeating it') || l.includes('was not created; trying again'),
    );
    expect(decided).toHaveLength(1);
    // Repeated only when the check found nothing.
    expect(counts['POST /api/{spaceId}/deployments']).toBe(
      decided[0]?.includes('trying again') ? 2 : 1,
    );
  });

  it('finds a create whose answer was lost (created, then timed out) and never posts it again', async () => {
    const slow = makeClient({
      timeoutMs: 300,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    });
    const projectId = await slow.resolve.projectId('Web App');
    const environmentId = await slow.resolve.environmentId('Development');
    const release = await slow.releases.latest(projectId);
    if (!release) throw new Error('no Web App release');
    // The simulator creates the deployment, then holds the answer past the client's timeout.
    await control('POST', 'faults', {
      type: 'delay',
      after: true,
      method: 'POST',
      path: '^/api/Spaces-1/deployments$',
      delayMs: 1500,
      count: 1,
    });
    const marker = `coordinator run=lost-${Date.now()}`;
    const created = await slow.deployments.create({
      ReleaseId: release.Id,
      ProjectId: projectId,
      EnvironmentId: environmentId,
      Comments: marker,
    });
    const withMarker = (
      await collect(
        client.deployments.list({
          projects: [projectId],
          environments: [environmentId],
          maxItems: 30,
        }),
      )
    ).filter((d) => d.Comments === marker);
    expect(withMarker.map((d) => d.Id)).toEqual([created.Id]);
    expect(slow.calls.byEndpoint()['POST /api/{spaceId}/deployments']).toBe(1);
  });

  it('retries a create answered with 503 only after checking it did not happen', async () => {
    const projectId = await client.resolve.projectId('Web App');
    const environmentId = await client.resolve.environmentId('Test');
    const release = await client.releases.latest(projectId);
    await control('POST', 'faults', {
      type: 'error',
      status: 503,
      method: 'POST',
      path: '^/api/Spaces-1/deployments$',
      count: 1,
    });
    client.calls.reset();
    const marker = `coordinator run=503-${Date.now()}`;
    const created = await client.deployments.create({
      ReleaseId: release?.Id ?? '',
      ProjectId: projectId,
      EnvironmentId: environmentId,
      Comments: marker,
    });
    expect(created.Comments).toBe(marker);
    expect(client.calls.byEndpoint()).toEqual({
      'POST /api/{spaceId}/deployments': 2,
      'GET /api/{spaceId}/deployments': 1,
    });
    const withMarker = (
      await collect(
        client.deployments.list({
          projects: [projectId],
          environments: [environmentId],
          maxItems: 30,
        }),
      )
    ).filter((d) => d.Comments === marker);
    expect(withMarker).toHaveLength(1);
  });

  it('refuses to retry an unconfirmable create without a Comments marker', async () => {
    const slow = makeClient({ timeoutMs: 300 });
    const projectId = await slow.resolve.projectId('Web App');
    const environmentId = await slow.resolve.environmentId('Test');
    const release = await slow.releases.latest(projectId);
    await control('POST', 'faults', {
      type: 'delay',
      method: 'POST',
      path: '^/api/Spaces-1/deployments$',
      delayMs: 1500,
      count: 1,
    });
    const error = (await slow.deployments
      .create({ ReleaseId: release?.Id ?? '', ProjectId: projectId, EnvironmentId: environmentId })
      .catch((e: unknown) => e)) as OctopusError;
    expect(error.code).toBe('CreateUnconfirmed');
    expect(slow.calls.byEndpoint()['POST /api/{spaceId}/deployments']).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1600));
  });
});

describe('call counting', () => {
  it("matches the simulator's own request counts", async () => {
    const counted = makeClient();
    const before = (await control('GET', 'requests')) as { total: number };
    await counted.projects.all();
    await collect(counted.deployments.list({ pageSize: 3, maxItems: 7 }));
    await counted.dashboard.dynamic({ includePrevious: true });
    const after = (await control('GET', 'requests')) as { total: number };
    expect(counted.calls.total).toBe(1 + 1 + 3 + 1);
    expect(after.total - before.total).toBe(counted.calls.total);
  });
});
