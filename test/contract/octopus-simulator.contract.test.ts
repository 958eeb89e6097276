// Contract tests: the simulator's JSON checked against /work/shared/octopus-api.md (fields, casing, order,
// paging, dashboard, events, task details, webhook payloads). Expectations come from that document.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOctopusSimulator, type OctopusSimulator } from '../../dev/octopus-sim/index.js';

type Json = Record<string, unknown>;

let sim: OctopusSimulator;
const space = 'Spaces-1';

async function api(
  path: string,
  init: { method?: string; body?: unknown; key?: string | null } = {},
) {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (init.key !== null) headers['X-Octopus-ApiKey'] = init.key ?? sim.apiKey;
  const response = await fetch(`${sim.url}${path}`, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: (text ? JSON.parse(text) : undefined) as unknown,
  };
}

async function get<T = Json>(path: string): Promise<T> {
  const response = await api(path);
  if (response.status !== 200)
    throw new Error(`GET ${path} answered ${response.status}: ${JSON.stringify(response.json)}`);
  return response.json as T;
}

const isoWithOffset = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?[+-]\d{2}:\d{2}$/;

/** Every property name in the document starts with an upper-case letter (PascalCase). */
function expectPascalCase(value: unknown, path = '$'): void {
  if (Array.isArray(value)) value.forEach((item, i) => expectPascalCase(item, `${path}[${i}]`));
  else if (value !== null && typeof value === 'object')
    for (const [key, inner] of Object.entries(value)) {
      expect(key, `${path}.${key}`).toMatch(/^[A-Z]/);
      expectPascalCase(inner, `${path}.${key}`);
    }
}

function expectFields(resource: unknown, fields: string[]): void {
  expect(resource).toBeTypeOf('object');
  const keys = Object.keys(resource as Json);
  for (const field of fields) expect(keys, `field ${field}`).toContain(field);
}

const idOf = (kind: string) => new RegExp(`^${kind}-\\d+$`);

async function projectId(name: string): Promise<string> {
  const all = await get<Json[]>(`/api/${space}/projects/all`);
  const project = all.find((p) => p.Name === name);
  if (!project) throw new Error(`no project ${name}`);
  return String(project.Id);
}

async function environmentId(name: string): Promise<string> {
  const all = await get<Json[]>(`/api/${space}/environments/all`);
  return String(all.find((e) => e.Name === name)?.Id);
}

async function release(project: string, version: string): Promise<Json> {
  return get(`/api/${space}/projects/${await projectId(project)}/releases/${version}`);
}

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0 });
  sim.clock({ action: 'pause' });
});

afterAll(async () => {
  await sim?.stop();
});

describe('§0–1 wire conventions, auth, root and spaces', () => {
  it('answers 401 without a valid API key and accepts the key as a header or ?apikey=', async () => {
    const missing = await api(`/api/${space}/projects`, { key: null });
    expect(missing.status).toBe(401);
    expect((missing.json as Json).ErrorMessage).toBeTypeOf('string');
    expect((await api(`/api/${space}/projects`, { key: 'API-WRONG' })).status).toBe(401);
    const viaQuery = await api(`/api/${space}/projects?apikey=${sim.apiKey}`, { key: null });
    expect(viaQuery.status).toBe(200);
  });

  it('serves the /api root document with its links', async () => {
    const root = await get('/api');
    expectFields(root, [
      'Application',
      'Version',
      'ApiVersion',
      'InstallationId',
      'HasLongTermSupport',
      'IsEarlyAccessProgram',
      'Links',
    ]);
    expect(root.Application).toBe('Octopus Deploy');
    expectPascalCase(root);
  });

  it('serves the space root with the documented link names', async () => {
    const home = await get(`/api/${space}`);
    expect(home.Id).toBe(space);
    expectFields(home.Links, [
      'Projects',
      'Environments',
      'Tenants',
      'Lifecycles',
      'Channels',
      'Releases',
      'Deployments',
      'Tasks',
      'Dashboard',
      'DashboardDynamic',
      'Events',
      'EventCategories',
      'EventGroups',
      'Interruptions',
      'Subscriptions',
      'ProjectTriggers',
      'Spaces',
      'SpaceHome',
      'CurrentUser',
    ]);
    expect(String((home.Links as Json).Deployments)).toMatch(
      new RegExp(`^/api/${space}/deployments`),
    );
  });

  it('lists spaces; a name maps to its id by partialName and an exact Name match', async () => {
    const all = await get<Json[]>('/api/spaces/all');
    expect(Array.isArray(all)).toBe(true);
    expectFields(all[0], [
      'Id',
      'Name',
      'Slug',
      'Description',
      'IsDefault',
      'TaskQueueStopped',
      'SpaceManagersTeams',
      'SpaceManagersTeamMembers',
    ]);
    const page = await get('/api/spaces?partialName=Default&skip=0&take=2147483647');
    const match = (page.Items as Json[]).find((s) => s.Name === 'Default');
    expect(match?.Id).toBe(space);
  });
});

describe('§1 paged collections', () => {
  it('pages with skip/take and the documented counts and links', async () => {
    const first = await get(`/api/${space}/projects?skip=0&take=1`);
    expectFields(first, [
      'ItemType',
      'TotalResults',
      'ItemsPerPage',
      'NumberOfPages',
      'LastPageNumber',
      'Items',
      'Links',
    ]);
    expect(first.ItemType).toBe('Project');
    expect(first.TotalResults).toBe(4);
    expect(first.ItemsPerPage).toBe(1);
    expect(first.NumberOfPages).toBe(4);
    expect(first.LastPageNumber).toBe(3);
    expect((first.Items as unknown[]).length).toBe(1);
    const links = first.Links as Json;
    expectFields(links, ['Self', 'Template', 'Page.All', 'Page.Current', 'Page.Last', 'Page.Next']);
    expect(links['Page.Previous']).toBeUndefined();

    const last = await get(`/api/${space}/projects?skip=3&take=1`);
    expect((last.Links as Json)['Page.Next']).toBeUndefined();
    expect((last.Links as Json)['Page.Previous']).toBeTypeOf('string');
  });

  it('uses take 30 by default and 10 for environments', async () => {
    expect((await get(`/api/${space}/deployments`)).ItemsPerPage).toBe(30);
    expect((await get(`/api/${space}/environments`)).ItemsPerPage).toBe(10);
  });

  it('serves /all endpoints as bare arrays in the documented order', async () => {
    const projects = await get<Json[]>(`/api/${space}/projects/all`);
    const names = projects.map((p) => String(p.Name));
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b)));
    const environments = await get<Json[]>(`/api/${space}/environments/all`);
    expect(environments.map((e) => e.Name)).toEqual(['Development', 'Test', 'Production']);
    const orders = environments.map((e) => Number(e.SortOrder));
    expect(orders).toEqual([...orders].sort((a, b) => a - b));
    const tenants = await get<Json[]>(`/api/${space}/tenants/all`);
    expect(tenants.map((t) => t.Name)).toEqual(['Acme Corp', 'Globex']);
    expect(Array.isArray(await get(`/api/${space}/lifecycles/all`))).toBe(true);
    expect(Array.isArray(await get(`/api/${space}/subscriptions/all`))).toBe(true);
  });

  it('filters by ids given as one comma-separated value; a name matches nothing', async () => {
    const projects = await get<Json[]>(`/api/${space}/projects/all`);
    const [a, b] = projects;
    const page = await get(`/api/${space}/projects?ids=${String(a?.Id)},${String(b?.Id)}`);
    expect((page.Items as Json[]).map((p) => p.Id).sort()).toEqual([a?.Id, b?.Id].sort());
    const byName = await get(`/api/${space}/deployments?projects=Database`);
    expect(byName.TotalResults).toBe(0);
  });
});

describe('§2 projects, environments, tenants, lifecycles, channels', () => {
  it('has the documented fields, ids and casing', async () => {
    const projects = await get<Json[]>(`/api/${space}/projects/all`);
    for (const project of projects) {
      expectFields(project, [
        'Id',
        'Name',
        'Slug',
        'Description',
        'ProjectGroupId',
        'LifecycleId',
        'IsDisabled',
        'TenantedDeploymentMode',
        'DeploymentProcessId',
        'VariableSetId',
        'AutoCreateRelease',
        'IsVersionControlled',
        'SpaceId',
      ]);
      expect(project.Id).toMatch(idOf('Projects'));
      expect(['Untenanted', 'TenantedOrUntenanted', 'Tenanted']).toContain(
        project.TenantedDeploymentMode,
      );
      expectPascalCase(project);
    }
    expect(projects.find((p) => p.Name === 'Billing Worker')?.TenantedDeploymentMode).toBe(
      'Tenanted',
    );

    const environment = (await get<Json[]>(`/api/${space}/environments/all`))[0];
    expectFields(environment, [
      'Id',
      'Name',
      'Slug',
      'Description',
      'SortOrder',
      'UseGuidedFailure',
      'AllowDynamicInfrastructure',
      'EnvironmentTags',
      'SpaceId',
    ]);
    expect(environment?.Id).toMatch(idOf('Environments'));

    const tenant = (await get<Json[]>(`/api/${space}/tenants/all`))[0];
    expectFields(tenant, [
      'Id',
      'Name',
      'Slug',
      'Description',
      'IsDisabled',
      'TenantTags',
      'ProjectEnvironments',
      'SpaceId',
    ]);
    const billing = await projectId('Billing Worker');
    const connected = (tenant?.ProjectEnvironments as Record<string, string[]>)[billing];
    expect(connected?.length).toBe(3);
    connected?.forEach((id) => expect(id).toMatch(idOf('Environments')));

    const channels = await get(`/api/${space}/projects/${await projectId('Database')}/channels`);
    const channel = (channels.Items as Json[])[0];
    expectFields(channel, [
      'Id',
      'Name',
      'Slug',
      'ProjectId',
      'LifecycleId',
      'IsDefault',
      'Rules',
      'TenantTags',
    ]);
    expect(await get(`/api/${space}/channels/${String(channel?.Id)}`)).toMatchObject({
      Id: channel?.Id,
    });

    const lifecycle = (await get<Json[]>(`/api/${space}/lifecycles/all`))[0];
    expectFields(lifecycle, [
      'Id',
      'Name',
      'Slug',
      'Description',
      'ReleaseRetentionPolicy',
      'TentacleRetentionPolicy',
      'Phases',
    ]);
    const phases = lifecycle?.Phases as Json[];
    expect(phases.length).toBe(3);
    for (const phase of phases)
      expectFields(phase, [
        'Id',
        'Name',
        'AutomaticDeploymentTargets',
        'OptionalDeploymentTargets',
        'MinimumEnvironmentsBeforePromotion',
        'IsOptionalPhase',
        'IsPriorityPhase',
      ]);
    expectFields(lifecycle?.ReleaseRetentionPolicy, [
      'Unit',
      'QuantityToKeep',
      'ShouldKeepForever',
    ]);
  });
});

describe('§3 releases', () => {
  it('lists a project’s releases newest first by creation and finds one by exact version', async () => {
    const page = await get(`/api/${space}/projects/${await projectId('Database')}/releases`);
    const items = page.Items as Json[];
    expect(items.map((r) => r.Version)).toEqual(['1.6.0', '1.5.0', '1.4.0']);
    const assembled = items.map((r) => Date.parse(String(r.Assembled)));
    expect(assembled).toEqual([...assembled].sort((a, b) => b - a));
    const one = await release('Database', '1.5.0');
    expectFields(one, [
      'Id',
      'Version',
      'ProjectId',
      'ChannelId',
      'Assembled',
      'ReleaseNotes',
      'SelectedPackages',
      'BuildInformation',
      'IgnoreChannelRules',
      'CustomFields',
      'SpaceId',
    ]);
    expect(one.Id).toMatch(idOf('Releases'));
    expect(one.Assembled).toMatch(isoWithOffset);
    expect((await get(`/api/${space}/releases/${String(one.Id)}`)).Version).toBe('1.5.0');
    expect(
      ((await get(`/api/${space}/releases?ids=${String(one.Id)}`)).Items as Json[]).length,
    ).toBe(1);
    expect(
      (await api(`/api/${space}/projects/${await projectId('Database')}/releases/9.9.9`)).status,
    ).toBe(404);
  });

  it('answers the deployment template with PromoteTo per the lifecycle', async () => {
    // Database 1.6.0 is in Development and Test: Production is next.
    const ready = await get(
      `/api/${space}/releases/${String((await release('Database', '1.6.0')).Id)}/deployments/template`,
    );
    expect((ready.PromoteTo as Json[]).map((e) => e.Name)).toEqual([
      'Development',
      'Test',
      'Production',
    ]);
    for (const target of ready.PromoteTo as Json[]) expectFields(target, ['Id', 'Name']);
    const fresh = sim.createRelease({ project: 'Web App', version: '3.9.0-contract' });
    const first = await get(`/api/${space}/releases/${String(fresh.Id)}/deployments/template`);
    expect((first.PromoteTo as Json[]).map((e) => e.Name)).toEqual(['Development']);
    const tenanted = await get(
      `/api/${space}/releases/${String((await release('Billing Worker', '1.0.0')).Id)}/deployments/template`,
    );
    const promotions = tenanted.TenantPromotions as Json[];
    expect(promotions.map((t) => t.Name).sort()).toEqual(['Acme Corp', 'Globex']);
    for (const tenant of promotions) expectFields(tenant, ['Id', 'Name', 'PromoteTo']);
  });
});

describe('§4 deployments and §5 tasks', () => {
  it('creates a deployment (201 with Id, TaskId, Name, Created) that becomes a task', async () => {
    const dbRelease = await release('Database', '1.6.0');
    const production = await environmentId('Production');
    const created = await api(`/api/${space}/deployments`, {
      method: 'POST',
      body: {
        ProjectId: dbRelease.ProjectId,
        ChannelId: dbRelease.ChannelId,
        ReleaseId: dbRelease.Id,
        EnvironmentId: production,
        TenantId: null,
        QueueTime: null,
        Comments: 'coordinator run=r-contract action=deploy-db',
        SkipActions: [],
        SpecificMachineIds: [],
        ExcludedMachineIds: [],
        ForcePackageRedeployment: false,
        UseGuidedFailure: false,
        FormValues: {},
      },
    });
    expect(created.status).toBe(201);
    const deployment = created.json as Json;
    expectFields(deployment, [
      'Id',
      'Name',
      'ProjectId',
      'ReleaseId',
      'ChannelId',
      'EnvironmentId',
      'TenantId',
      'TaskId',
      'Created',
      'QueueTime',
      'QueueTimeExpiry',
      'Comments',
      'DeployedBy',
      'DeployedById',
      'DeployedToMachineIds',
      'SkipActions',
      'SpecificMachineIds',
      'ExcludedMachineIds',
      'SpecificTargetTagIds',
      'ExcludedTargetTagIds',
      'ForcePackageDownload',
      'ForcePackageRedeployment',
      'UseGuidedFailure',
      'FormValues',
      'FailureEncountered',
      'Priority',
      'DebugMode',
      'FailTargetDiscovery',
      'DeploymentProcessId',
      'ManifestVariableSetId',
      'Changes',
      'ChangesMarkdown',
      'SpaceId',
      'Links',
    ]);
    expect(deployment.Id).toMatch(idOf('Deployments'));
    expect(deployment.TaskId).toMatch(idOf('ServerTasks'));
    expect(deployment.Name).toBe('Deploy to Production');
    expect(deployment.TenantId).toBeNull();
    expect(deployment.Created).toMatch(isoWithOffset);
    expect(deployment.Comments).toBe('coordinator run=r-contract action=deploy-db');
    expectFields(deployment.Links, ['Self', 'Release', 'Environment', 'Project', 'Task', 'Web']);
    expectPascalCase(deployment);

    const task = await get(`/api/tasks/${String(deployment.TaskId)}`);
    expectFields(task, [
      'Id',
      'Name',
      'Description',
      'Arguments',
      'State',
      'IsCompleted',
      'FinishedSuccessfully',
      'HasWarningsOrErrors',
      'ErrorMessage',
      'HasPendingInterruptions',
      'PendingInterruptionTypes',
      'HasPendingPreconditions',
      'QueueTime',
      'QueueTimeExpiry',
      'StartTime',
      'CompletedTime',
      'LastUpdatedTime',
      'Completed',
      'Duration',
      'ServerNode',
      'HasBeenPickedUpByProcessor',
      'CanRerun',
      'EstimatedRemainingQueueDurationSeconds',
      'ProjectId',
      'SpaceId',
      'Links',
    ]);
    expect(task.Name).toBe('Deploy');
    expect(task.Arguments).toMatchObject({ DeploymentId: deployment.Id });
    expect(['Queued', 'Executing']).toContain(task.State);
    expect(task.IsCompleted).toBe(false);
    expect(task.CompletedTime).toBeNull();
    expectFields(task.Links, ['Self', 'Web', 'Details', 'Cancel']);
    expect(await get(`/api/${space}/tasks/${String(deployment.TaskId)}`)).toMatchObject({
      Id: deployment.TaskId,
    });

    sim.clock({ action: 'advance', ms: 10 * 60_000 });
    const done = await get(`/api/tasks/${String(deployment.TaskId)}`);
    expect(done.State).toBe('Success');
    expect(done.IsCompleted).toBe(true);
    expect(done.FinishedSuccessfully).toBe(true);
    expect(done.ErrorMessage).toBe('');
    expect(done.StartTime).toMatch(isoWithOffset);
    expect(done.CompletedTime).toMatch(isoWithOffset);

    const details = await get(
      `/api/${space}/tasks/${String(deployment.TaskId)}/details?verbose=false&tail=5`,
    );
    expectFields(details, ['Task', 'ActivityLogs', 'Progress', 'PhysicalLogSize']);
    expectFields(details.Progress, ['ProgressPercentage', 'EstimatedTimeRemaining']);
    const root = (details.ActivityLogs as Json[])[0];
    expectFields(root, [
      'Id',
      'Name',
      'Status',
      'Started',
      'Ended',
      'Children',
      'ShowAtSummaryLevel',
      'LogElements',
      'ProgressPercentage',
      'ProgressMessage',
    ]);
    expect(root?.Status).toBe('Success');
    const steps = root?.Children as Json[];
    expect(steps.map((s) => s.Name)).toEqual([
      'Step 1: Back up database',
      'Step 2: Apply migrations',
      'Step 3: Verify schema',
    ]);
    for (const step of steps)
      expect([
        'Pending',
        'Running',
        'Success',
        'Failed',
        'Skipped',
        'SuccessWithWarning',
        'Canceled',
      ]).toContain(step.Status);
    const logLine = ((steps[0]?.Children as Json[])[0]?.LogElements as Json[])[0];
    expectFields(logLine, ['Category', 'OccurredAt', 'MessageText']);
    expectPascalCase(details);
  });

  it('lists deployments newest first with comma-list filters, and tenanted names', async () => {
    const billing = await release('Billing Worker', '1.0.0');
    const tenants = await get<Json[]>(`/api/${space}/tenants/all`);
    const acme = tenants.find((t) => t.Name === 'Acme Corp');
    const created = await api(`/api/${space}/deployments`, {
      method: 'POST',
      body: {
        ReleaseId: billing.Id,
        EnvironmentId: await environmentId('Production'),
        TenantId: acme?.Id,
      },
    });
    expect(created.status).toBe(201);
    expect((created.json as Json).Name).toBe('Deploy to Production for Acme Corp');
    expect((created.json as Json).TenantId).toBe(acme?.Id);

    const page = await get(
      `/api/${space}/deployments?projects=${String(billing.ProjectId)},${await projectId('Database')}&take=100`,
    );
    const items = page.Items as Json[];
    expect(items.length).toBeGreaterThan(2);
    const created_ = items.map((d) => Date.parse(String(d.Created)));
    expect(created_).toEqual([...created_].sort((a, b) => b - a));
    expect(new Set(items.map((d) => d.ProjectId))).toEqual(
      new Set([billing.ProjectId, await projectId('Database')]),
    );
    const failed = await get(`/api/${space}/deployments?taskState=Failed`);
    expect((failed.Items as Json[]).length).toBeGreaterThan(0);
  });

  it('refuses deployments outside the lifecycle or without a tenant for a Tenanted project with 400 and ErrorMessage/Errors', async () => {
    const fresh = sim.createRelease({ project: 'Database', version: '1.7.0-contract' });
    const outside = await api(`/api/${space}/deployments`, {
      method: 'POST',
      body: { ReleaseId: fresh.Id, EnvironmentId: await environmentId('Production') },
    });
    expect(outside.status).toBe(400);
    expect((outside.json as Json).ErrorMessage).toBeTypeOf('string');
    expect(Array.isArray((outside.json as Json).Errors)).toBe(true);
    const untenanted = await api(`/api/${space}/deployments`, {
      method: 'POST',
      body: {
        ReleaseId: (await release('Billing Worker', '1.0.0')).Id,
        EnvironmentId: await environmentId('Development'),
      },
    });
    expect(untenanted.status).toBe(400);
  });

  it('lists tasks newest first with TotalCounts and the daily-report filters', async () => {
    const now = new Date(sim.now());
    const from = new Date(now.getTime() - 30 * 24 * 3600_000).toISOString();
    const page = await get(
      `/api/${space}/tasks?name=Deploy&fromCompletedDate=${from}&toCompletedDate=${now.toISOString()}&take=200`,
    );
    expectFields(page, ['Items', 'TotalResults', 'TotalCounts']);
    const items = page.Items as Json[];
    expect(items.length).toBeGreaterThan(10);
    for (const task of items) {
      expect(task.Name).toBe('Deploy');
      expect(task.IsCompleted).toBe(true);
      expect((task.Arguments as Json).DeploymentId).toMatch(idOf('Deployments'));
    }
    const queued = items.map((t) => Date.parse(String(t.QueueTime)));
    expect(queued).toEqual([...queued].sort((a, b) => b - a));
    const states = await get(`/api/tasks?states=Failed`);
    for (const task of states.Items as Json[]) expect(task.State).toBe('Failed');
  });
});

describe('§6 dashboard', () => {
  it('has the documented shape and one IsCurrent item per project/environment/tenant', async () => {
    const board = await get(`/api/${space}/dashboard/dynamic`);
    expectFields(board, [
      'Projects',
      'ProjectGroups',
      'Environments',
      'Tenants',
      'Items',
      'ProjectLimit',
      'IsFiltered',
      'Id',
      'Links',
    ]);
    expect(board.IsFiltered).toBe(false);
    expectFields((board.Projects as Json[])[0], [
      'Id',
      'Name',
      'Slug',
      'ProjectGroupId',
      'EnvironmentIds',
      'TenantedDeploymentMode',
      'CanPerformUntenantedDeployment',
      'IsDisabled',
    ]);
    expectFields((board.Environments as Json[])[0], ['Id', 'Name']);
    expectFields((board.Tenants as Json[])[0], [
      'Id',
      'Name',
      'TenantTags',
      'ProjectEnvironments',
      'IsDisabled',
    ]);
    const items = board.Items as Json[];
    const cells = items.map(
      (i) => `${String(i.ProjectId)}|${String(i.EnvironmentId)}|${String(i.TenantId)}`,
    );
    expect(new Set(cells).size).toBe(cells.length);
    for (const item of items) {
      expectFields(item, [
        'Id',
        'DeploymentId',
        'ProjectId',
        'EnvironmentId',
        'TenantId',
        'ReleaseId',
        'ReleaseVersion',
        'ChannelId',
        'TaskId',
        'State',
        'Created',
        'QueueTime',
        'StartTime',
        'CompletedTime',
        'Duration',
        'ErrorMessage',
        'HasWarningsOrErrors',
        'HasPendingInterruptions',
        'PendingInterruptionTypes',
        'HasPendingPreconditions',
        'PendingPreconditionTypes',
        'IsCurrent',
        'IsPrevious',
        'IsCompleted',
        'Links',
      ]);
      expect(item.Id).toBe(item.DeploymentId);
      expect(item.IsCurrent).toBe(true);
      expectFields(item.Links, ['Self', 'Release', 'Task']);
    }
    expect(board.PreviousItems).toBeUndefined();
    expectPascalCase(board);
  });

  it('adds the previous successful deployment with includePrevious and reports IsFiltered', async () => {
    const webApi = await projectId('Web API');
    const production = await environmentId('Production');
    const board = await get(
      `/api/${space}/dashboard/dynamic?projects=${webApi}&environments=${production}&includePrevious=true`,
    );
    expect(board.IsFiltered).toBe(true);
    const items = board.Items as Json[];
    const current = items.filter((i) => i.IsCurrent === true);
    const previous = items.filter((i) => i.IsPrevious === true);
    expect(current).toHaveLength(1);
    expect(current[0]).toMatchObject({
      ProjectId: webApi,
      EnvironmentId: production,
      ReleaseVersion: '2.17.0',
      State: 'Failed',
      TenantId: null,
    });
    expect(previous).toHaveLength(1);
    expect(previous[0]).toMatchObject({
      ReleaseVersion: '2.16.0',
      State: 'Success',
      IsCurrent: false,
    });
    const none = await get(`/api/${space}/dashboard/dynamic?projects=Projects-999`);
    expect(none.IsFiltered).toBe(true);
    expect(none.Items).toEqual([]);
  });
});

describe('§7 events', () => {
  it('lists events newest first with the documented fields and deployment RelatedDocumentIds order', async () => {
    const page = await get(
      `/api/${space}/events?eventCategories=DeploymentQueued,DeploymentStarted,DeploymentSucceeded,DeploymentFailed&take=100`,
    );
    const events = page.Items as Json[];
    expect(events.length).toBeGreaterThan(10);
    const occurred = events.map((e) => Date.parse(String(e.Occurred)));
    expect(occurred).toEqual([...occurred].sort((a, b) => b - a));
    for (const event of events) {
      expectFields(event, [
        'Id',
        'Category',
        'Message',
        'MessageHtml',
        'MessageReferences',
        'Occurred',
        'RelatedDocumentIds',
        'UserId',
        'Username',
        'IsService',
        'IdentityEstablishedWith',
        'UserAgent',
        'IpAddress',
        'Comments',
        'Details',
        'ChangeDetails',
        'SpaceId',
        'Links',
      ]);
      expect(event.Id).toMatch(idOf('Events'));
      expect(event.Occurred).toMatch(isoWithOffset);
      const related = event.RelatedDocumentIds as string[];
      const prefixes = related.map((id) => id.replace(/-\d+$/, ''));
      const expected = prefixes.includes('Tenants')
        ? [
            'Deployments',
            'Projects',
            'Releases',
            'Environments',
            'Tenants',
            'ServerTasks',
            'Channels',
          ]
        : ['Deployments', 'Projects', 'Releases', 'Environments', 'ServerTasks', 'Channels'];
      expect(prefixes).toEqual(expected);
      if (event.Category !== 'DeploymentQueued') {
        expect(event.UserId).toBe('users-system');
        expect(event.Username).toBe('system');
        expect(event.UserAgent).toBe('Server');
      }
    }
    expect(new Set(events.map((e) => e.Category))).toEqual(
      new Set(['DeploymentQueued', 'DeploymentStarted', 'DeploymentSucceeded', 'DeploymentFailed']),
    );
    expectPascalCase(events);
  });

  it('filters by regarding, projects and time, also at /api/events', async () => {
    const deployment = ((await get(`/api/${space}/deployments?take=1`)).Items as Json[])[0];
    const about = await get(`/api/events?regarding=${String(deployment?.Id)}`);
    const items = about.Items as Json[];
    expect(items.length).toBeGreaterThanOrEqual(1);
    for (const e of items) expect(e.RelatedDocumentIds).toContain(deployment?.Id);
    const from = new Date(sim.now() - 3600_000).toISOString();
    const recent = await get(
      `/api/${space}/events?from=${from}&to=${new Date(sim.now()).toISOString()}`,
    );
    for (const e of recent.Items as Json[])
      expect(Date.parse(String(e.Occurred))).toBeGreaterThanOrEqual(Date.parse(from));
    const webApp = await projectId('Web App');
    for (const e of (await get(`/api/${space}/events?projects=${webApp}`)).Items as Json[])
      expect(e.RelatedDocumentIds).toContain(webApp);
  });
});

describe('§8 interruptions', () => {
  it('lists interruptions as a paged collection', async () => {
    const page = await get(`/api/${space}/interruptions?regarding=ServerTasks-1&pendingOnly=true`);
    expectFields(page, ['ItemType', 'TotalResults', 'Items', 'Links']);
  });
});

describe('§9 subscriptions and the webhook payload', () => {
  it('POSTs one payload per event with the one custom header and the documented shape', async () => {
    const received: { headers: http.IncomingHttpHeaders; body: Json }[] = [];
    const receiver = http.createServer((request, response) => {
      let text = '';
      request.on('data', (chunk: Buffer) => (text += chunk.toString()));
      request.on('end', () => {
        received.push({ headers: request.headers, body: JSON.parse(text) as Json });
        response.writeHead(202).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const port = (receiver.address() as AddressInfo).port;
    try {
      // Earlier tests left other deployments running: filter to the two projects deployed here.
      const projects = [await projectId('Web App'), await projectId('Web API')];
      const created = await api(`/api/${space}/subscriptions`, {
        method: 'POST',
        body: {
          Name: 'Coordinator',
          Type: 'Event',
          IsDisabled: false,
          EventNotificationSubscription: {
            Filter: {
              EventCategories: ['DeploymentSucceeded', 'DeploymentFailed'],
              Projects: projects,
            },
            WebhookURI: `http://127.0.0.1:${port}/api/octopus/events`,
            WebhookTimeout: '00:00:10',
            WebhookHeaderKey: 'X-Coordinator-Secret',
            WebhookHeaderValue: {
              IsSensitive: true,
              Value: null,
              SensitiveValue: { HasValue: true, NewValue: 's3cret', Hint: null },
            },
          },
        },
      });
      expect(created.status).toBeLessThan(300);
      const sub = created.json as Json;
      expect(sub.Id).toMatch(idOf('Subscriptions'));
      const notification = sub.EventNotificationSubscription as Json;
      expectFields(notification, [
        'Filter',
        'WebhookURI',
        'WebhookTimeout',
        'WebhookHeaderKey',
        'WebhookHeaderValue',
        'WebhookTeams',
        'WebhookLastProcessedEventAutoId',
      ]);
      expectFields(notification.Filter, [
        'EventCategories',
        'EventGroups',
        'Projects',
        'ProjectGroups',
        'Environments',
        'Tenants',
        'Tags',
        'DocumentTypes',
        'Users',
        'EventAgents',
      ]);
      expect(JSON.stringify(sub)).not.toContain('s3cret');
      expect((await get<Json[]>(`/api/${space}/subscriptions/all`)).map((s) => s.Id)).toContain(
        sub.Id,
      );

      const webApp = await release('Web App', '3.2.0');
      const prod = await api(`/api/${space}/deployments`, {
        method: 'POST',
        body: { ReleaseId: webApp.Id, EnvironmentId: await environmentId('Production') },
      });
      expect(prod.status).toBe(201);
      sim.script({ project: 'Web API', environment: 'Production', outcome: 'fail', failAtStep: 2 });
      const webApi = await release('Web API', '2.18.0');
      await api(`/api/${space}/deployments`, {
        method: 'POST',
        body: { ReleaseId: webApi.Id, EnvironmentId: await environmentId('Production') },
      });
      sim.clock({ action: 'advance', ms: 10 * 60_000 });
      await sim.flushWebhooks();

      expect(received.length).toBe(2);
      for (const { headers, body } of received) {
        expect(headers['x-coordinator-secret']).toBe('s3cret');
        expect(body.EventType).toBe('SubscriptionPayload');
        expect(body.Timestamp).toMatch(isoWithOffset);
        const payload = body.Payload as Json;
        expectFields(payload, [
          'ServerUri',
          'ServerAuditUri',
          'BatchProcessingDate',
          'BatchId',
          'TotalEventsInBatch',
          'EventNumberInBatch',
          'Subscription',
          'Event',
        ]);
        expect(Number(payload.EventNumberInBatch)).toBeGreaterThanOrEqual(1);
        expect(Number(payload.EventNumberInBatch)).toBeLessThanOrEqual(
          Number(payload.TotalEventsInBatch),
        );
        const subscription = payload.Subscription as Json;
        expectFields(subscription, [
          'Id',
          'Name',
          'Type',
          'IsDisabled',
          'SpaceId',
          'EventNotificationSubscription',
        ]);
        expect(subscription.Type).toBe('Event');
        const esub = subscription.EventNotificationSubscription as Json;
        expectFields(esub, [
          'Filter',
          'WebhookURI',
          'WebhookTimeout',
          'WebhookHeaderKey',
          'WebhookHeaderValue',
          'WebhookLastProcessedEventAutoId',
        ]);
        expect(esub.WebhookHeaderValue).toBeNull();
        const event = payload.Event as Json;
        expectFields(event, [
          'Id',
          'Category',
          'Message',
          'MessageHtml',
          'MessageReferences',
          'Occurred',
          'RelatedDocumentIds',
          'UserId',
          'Username',
          'IsService',
          'IdentityEstablishedWith',
          'UserAgent',
          'IpAddress',
          'Comments',
          'Details',
          'ChangeDetails',
          'SpaceId',
          'Links',
        ]);
        expectPascalCase(body);
        expect(JSON.stringify(body)).not.toContain('s3cret');
      }
      expect(
        received
          .map((r) => (r.body.Payload as Json).Event)
          .map((e) => (e as Json).Category)
          .sort(),
      ).toEqual(['DeploymentFailed', 'DeploymentSucceeded']);
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
    }
  });
});

describe('§0b corrections: anonymous roots, virtual directories, DebugMode, finished-task cancel', () => {
  it('answers GET /api and GET /api/{spaceId} without a key, and nothing else', async () => {
    expect((await api('/api', { key: null })).status).toBe(200);
    expect((await api(`/api/${space}`, { key: null })).status).toBe(200);
    expect((await api('/api/users/me', { key: null })).status).toBe(401);
    expect((await api('/api/users/me', { key: 'API-WRONG' })).status).toBe(401);
    expect((await api(`/api/${space}/tasks`, { key: null })).status).toBe(401);
  });

  it('under a virtual directory, serves Links as paths from the host root that include it', async () => {
    const vdir = await startOctopusSimulator({ port: 0, pathPrefix: '/octopus' });
    try {
      const origin = new URL(vdir.url).origin;
      const root = (await (await fetch(`${origin}/octopus/api`)).json()) as Json;
      const links = root.Links as Record<string, string>;
      for (const value of Object.values(links)) expect(value).toMatch(/^\/octopus\/api/);
      const page = (await (
        await fetch(`${origin}/octopus/api/${space}/deployments?take=1`, {
          headers: { 'X-Octopus-ApiKey': vdir.apiKey },
        })
      ).json()) as Json;
      const item = (page.Items as Json[])[0] as Json;
      expect((item.Links as Record<string, string>).Task).toMatch(/^\/octopus\/api\/tasks\//);
      expect((page.Links as Record<string, string>).Self).toMatch(/^\/octopus\/api\//);
      const outside = await fetch(`${origin}/api`);
      expect(outside.status).toBe(404);
    } finally {
      await vdir.stop();
    }
  });

  it('takes DebugMode as None | Log | Debug and refuses a boolean', async () => {
    const r = await release('Web API', '2.18.0');
    const body = {
      ReleaseId: r.Id,
      ProjectId: r.ProjectId,
      EnvironmentId: await environmentId('Development'),
    };
    const flag = await api(`/api/${space}/deployments`, {
      method: 'POST',
      body: { ...body, DebugMode: true },
    });
    expect(flag.status).toBe(400);
    const ok = await api(`/api/${space}/deployments`, {
      method: 'POST',
      body: { ...body, DebugMode: 'Debug' },
    });
    expect(ok.status).toBe(201);
    expect((ok.json as Json).DebugMode).toBe('Debug');
  });

  it('may refuse (400) to cancel a task that already finished', async () => {
    const tasks = await get<Json>(`/api/${space}/tasks?states=Success&take=1`);
    const done = (tasks.Items as Json[])[0] as Json;
    const cancel = await api(`/api/tasks/${String(done.Id)}/cancel`, { method: 'POST' });
    expect([200, 400]).toContain(cancel.status);
    const after = await get(`/api/tasks/${String(done.Id)}`);
    expect(after.State).toBe('Success');
  });

  it('refuses request lines over 8 KB', async () => {
    const ids = Array.from({ length: 700 }, (_, i) => `Deployments-${1_000_000_000 + i}`).join(',');
    expect((await api(`/api/${space}/deployments?ids=${ids}`)).status).toBe(414);
  });
});

describe('§11 rate limiting (2026.3): token bucket per user, 429 with Retry-After', () => {
  it('answers 429 with Retry-After past the burst, and again once tokens come back', async () => {
    sim.rateLimit({ perMinute: 60, burst: 3 });
    try {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 5; i++) {
        const r = await api(`/api/${space}/projects/all`);
        statuses.push(r.status);
        if (r.status === 429) retryAfter ??= r.headers.get('retry-after');
      }
      expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
      expect(statuses.slice(3)).toEqual([429, 429]);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      sim.clock({ action: 'advance', ms: 2_000 });
      expect((await api(`/api/${space}/projects/all`)).status).toBe(200);
    } finally {
      sim.rateLimit({ perMinute: null });
    }
  });
});

// §5, §8 and §0b: paused and superseded deployments. Expectations from octopus-api.md (§5 task fields,
// §8 interruptions), Octopus's API reference for interruptions (responsible, then submit; only the
// user with responsibility may submit), real interruption payloads (Form Instructions/Notes plus a
// Result or Guidance SubmitButtonGroup; guided-failure titles end "requires failure guidance") and
// Octopus's "Superseded Tasks" page (2025.2.7727: a new task cancels older queued ones of the same
// project/environment/tenant; a successful one cancels older paused ones; the audit history shows
// the cancel was the system's).
describe('§8 interruptions, Cancelling and superseded tasks', () => {
  let pausing: OctopusSimulator;
  const pausingScenario = {
    environments: ['Development', { name: 'Production', useGuidedFailure: true }],
    lifecycles: [{ name: 'Default', phases: [{ environments: ['Development', 'Production'] }] }],
    projects: [{ name: 'App', steps: ['Approve', 'Deploy', 'Verify'] }],
    releases: ['1.0.0', '1.1.0', '1.2.0', '1.3.0'].map((version) => ({ project: 'App', version })),
    stepDurationMs: 1000,
  };

  async function call(
    path: string,
    init: { method?: string; body?: unknown } = {},
  ): Promise<{ status: number; json: Json }> {
    const response = await fetch(`${pausing.url}${path}`, {
      method: init.method ?? 'GET',
      headers: { 'Content-Type': 'application/json', 'X-Octopus-ApiKey': pausing.apiKey },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await response.text();
    return { status: response.status, json: (text ? JSON.parse(text) : {}) as Json };
  }
  async function read(path: string): Promise<Json> {
    const r = await call(path);
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${JSON.stringify(r.json)}`);
    return r.json;
  }
  async function deploy(
    version: string,
    environment: string,
    extra: Record<string, unknown> = {},
  ): Promise<Json> {
    const projects = (await read(`/api/${space}/projects/all`)) as unknown as Json[];
    const app = String(projects[0]?.Id);
    const rel = await read(`/api/${space}/projects/${app}/releases/${version}`);
    const envs = (await read(`/api/${space}/environments/all`)) as unknown as Json[];
    const env = envs.find((e) => e.Name === environment);
    const created = await call(`/api/${space}/deployments`, {
      method: 'POST',
      body: { ReleaseId: rel.Id, ProjectId: app, EnvironmentId: env?.Id, ...extra },
    });
    expect(created.status).toBe(201);
    return created.json;
  }
  const task = (d: Json) => read(`/api/tasks/${String(d.TaskId)}`);
  const advance = (ms: number) => pausing.clock({ action: 'advance', ms });
  async function pendingFor(taskId: unknown): Promise<Json[]> {
    const page = await read(
      `/api/${space}/interruptions?regarding=${String(taskId)}&pendingOnly=true`,
    );
    return page.Items as Json[];
  }
  async function answer(interruption: Json, body: Record<string, unknown>) {
    return call(`/api/${space}/interruptions/${String(interruption.Id)}/submit`, {
      method: 'POST',
      body: { Id: interruption.Id, SpaceId: space, ...body },
    });
  }
  async function cancelEvents(taskId: unknown): Promise<Json[]> {
    const page = await read(`/api/${space}/events?regarding=${String(taskId)}`);
    return (page.Items as Json[]).filter((e) => /cancel/i.test(String(e.Category)));
  }

  beforeAll(async () => {
    pausing = await startOctopusSimulator({ port: 0, scenario: pausingScenario });
    pausing.clock({ action: 'pause' });
  });
  afterAll(async () => {
    await pausing?.stop();
  });

  it('pauses on a manual intervention: HasPendingInterruptions, an interruption with the documented shape, Proceed resumes', async () => {
    pausing.script({ project: 'App', environment: 'Development', outcome: 'manualIntervention' });
    const d = await deploy('1.0.0', 'Development');
    const paused = await task(d);
    expect(paused.HasPendingInterruptions).toBe(true);
    expect(paused.PendingInterruptionTypes).toEqual(['ManualIntervention']);
    expect(paused.IsCompleted).toBe(false);
    // No "Paused" state: a task paused on a manual intervention reads Queued or Executing.
    expect(['Queued', 'Executing']).toContain(paused.State);
    const dashboard = await read(`/api/${space}/dashboard/dynamic`);
    const item = (dashboard.Items as Json[]).find((i) => i.TaskId === d.TaskId);
    expect(item?.HasPendingInterruptions).toBe(true);
    const interrupted = await read(`/api/${space}/tasks?hasPendingInterruptions=true`);
    expect((interrupted.Items as Json[]).map((t) => t.Id)).toContain(d.TaskId);

    const [mi] = await pendingFor(d.TaskId);
    expectFields(mi, [
      'Id',
      'Title',
      'Type',
      'IsPending',
      'TaskId',
      'RelatedDocumentIds',
      'CorrelationId',
      'Created',
      'Form',
      'ResponsibleTeamIds',
      'ResponsibleUserId',
      'HasResponsibility',
      'CanTakeResponsibility',
      'IsLinkedToOtherInterruption',
      'SpaceId',
      'Links',
    ]);
    expectPascalCase({ ...mi, Form: undefined });
    expect(mi?.Id).toMatch(idOf('Interruptions'));
    expect(mi?.Type).toBe('ManualIntervention');
    expect(mi?.IsPending).toBe(true);
    expect(mi?.TaskId).toBe(d.TaskId);
    expect(mi?.RelatedDocumentIds).toEqual(expect.arrayContaining([d.Id, d.TaskId]));
    expect(mi?.HasResponsibility).toBe(false);
    expect(String(mi?.Created)).toMatch(isoWithOffset);
    const form = mi?.Form as { Elements: Json[]; Values: Json };
    const result = form.Elements.find((e) => e.Name === 'Result');
    expect((result?.Control as Json).Type).toBe('SubmitButtonGroup');
    expect(((result?.Control as Json).Buttons as Json[]).map((b) => b.Value)).toEqual([
      'Proceed',
      'Abort',
    ]);
    expect(Object.keys(form.Values)).toEqual(expect.arrayContaining(['Notes', 'Result']));
    // Paused: the clock moves, the task does not.
    advance(60_000);
    expect((await task(d)).HasPendingInterruptions).toBe(true);

    // Only the user with responsibility may submit.
    expect((await answer(mi as Json, { Result: 'Proceed' })).status).toBeGreaterThanOrEqual(400);
    const take = await call(`/api/${space}/interruptions/${String(mi?.Id)}/responsible`, {
      method: 'PUT',
    });
    expect(take.status).toBe(200);
    const mine = await read(`/api/${space}/interruptions/${String(mi?.Id)}`);
    expect(mine.HasResponsibility).toBe(true);
    // A manual intervention takes Result, not Guidance.
    expect((await answer(mi as Json, { Guidance: 'Retry' })).status).toBe(400);
    const submitted = await answer(mi as Json, { Result: 'Proceed', Notes: 'looks good' });
    expect(submitted.status).toBe(200);
    expect(submitted.json.IsPending).toBe(false);
    expect((submitted.json.Form as Json).Values).toMatchObject({ Result: 'Proceed' });
    expect(await pendingFor(d.TaskId)).toEqual([]);
    expect((await task(d)).HasPendingInterruptions).toBe(false);
    advance(10_000);
    expect((await task(d)).State).toBe('Success');
    const events = await read(`/api/${space}/events?regarding=${String(d.Id)}`);
    const categories = (events.Items as Json[]).map((e) => e.Category);
    expect(categories).toContain('ManualInterventionInterruptionRaised');
    expect(categories).toContain('DeploymentResumed');
  });

  it('Abort ends a manual intervention with a failed task', async () => {
    pausing.script({
      project: 'App',
      environment: 'Development',
      outcome: 'manualIntervention',
      atStep: 2,
    });
    const d = await deploy('1.1.0', 'Development');
    advance(1_500);
    const [mi] = await pendingFor(d.TaskId);
    expect(mi).toBeDefined();
    await call(`/api/${space}/interruptions/${String(mi?.Id)}/responsible`, { method: 'PUT' });
    expect((await answer(mi as Json, { Result: 'Abort' })).status).toBe(200);
    advance(5_000);
    const t = await task(d);
    expect(t.State).toBe('Failed');
    expect(t.HasPendingInterruptions).toBe(false);
  });

  it('pauses on guided failure (UseGuidedFailure): Executing, a GuidedFailure interruption, Retry resumes and Fail fails', async () => {
    pausing.script({ project: 'App', environment: 'Production', outcome: 'fail', failAtStep: 2 });
    const d = await deploy('1.0.0', 'Production');
    advance(2_500);
    const t = await task(d);
    expect(t.State).toBe('Executing');
    expect(t.HasPendingInterruptions).toBe(true);
    expect(t.PendingInterruptionTypes).toEqual(['GuidedFailure']);
    const [gf] = await pendingFor(d.TaskId);
    expect(gf?.Type).toBe('GuidedFailure');
    expect(String(gf?.Title)).toMatch(/ requires failure guidance$/);
    const guidance = ((gf?.Form as { Elements: Json[] }).Elements.find((e) => e.Name === 'Guidance')
      ?.Control ?? {}) as Json;
    expect((guidance.Buttons as Json[]).map((b) => b.Value)).toEqual(
      expect.arrayContaining(['Fail', 'Retry', 'Ignore']),
    );
    await call(`/api/${space}/interruptions/${String(gf?.Id)}/responsible`, { method: 'PUT' });
    expect((await answer(gf as Json, { Result: 'Proceed' })).status).toBe(400);
    expect((await answer(gf as Json, { Guidance: 'Retry' })).status).toBe(200);
    advance(10_000);
    expect((await task(d)).State).toBe('Success');

    pausing.script({ project: 'App', environment: 'Production', outcome: 'fail', failAtStep: 1 });
    const second = await deploy('1.0.0', 'Production');
    advance(1_500);
    const [again] = await pendingFor(second.TaskId);
    await call(`/api/${space}/interruptions/${String(again?.Id)}/responsible`, { method: 'PUT' });
    expect((await answer(again as Json, { Guidance: 'Fail' })).status).toBe(200);
    expect((await task(second)).State).toBe('Failed');
  });

  it('cancels a running or paused task through Cancelling; a queued one at once', async () => {
    const running = await deploy('1.2.0', 'Development');
    advance(100);
    expect((await task(running)).State).toBe('Executing');
    const queued = await deploy('1.3.0', 'Development');
    expect((await task(queued)).State).toBe('Queued');
    const cancel = await call(`/api/tasks/${String(running.TaskId)}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(200);
    expect(cancel.json.State).toBe('Cancelling');
    expect(cancel.json.IsCompleted).toBe(false);
    advance(1_000);
    expect((await task(running)).State).toBe('Canceled');
    advance(100);
    const queuedCancel = await call(`/api/tasks/${String(queued.TaskId)}/cancel`, {
      method: 'POST',
    });
    expect(['Cancelling', 'Canceled']).toContain(queuedCancel.json.State);
    advance(1_000);

    pausing.script({ project: 'App', environment: 'Development', outcome: 'manualIntervention' });
    const paused = await deploy('1.3.0', 'Development');
    expect((await task(paused)).HasPendingInterruptions).toBe(true);
    const c = await call(`/api/tasks/${String(paused.TaskId)}/cancel`, { method: 'POST' });
    expect(c.json.State).toBe('Cancelling');
    advance(1_000);
    expect((await task(paused)).State).toBe('Canceled');
    expect(await pendingFor(paused.TaskId)).toEqual([]);
    // A user's cancel is the user's in the audit log.
    const [event] = await cancelEvents(paused.TaskId);
    expect(event?.UserId).not.toBe('users-system');
  });

  it('superseded (Cancel queued tasks): a newer deployment cancels the older queued one; its audit event is the system’s', async () => {
    pausing.projectSettings({ project: 'App', cancelQueuedTasks: true });
    try {
      const running = await deploy('1.0.0', 'Development');
      const older = await deploy('1.1.0', 'Development');
      expect((await task(older)).State).toBe('Queued');
      const newer = await deploy('1.2.0', 'Development');
      const superseded = await task(older);
      expect(superseded.State).toBe('Canceled');
      expect(superseded.IsCompleted).toBe(true);
      expect(superseded.FinishedSuccessfully).toBe(false);
      const [event] = await cancelEvents(older.TaskId);
      expect(event?.UserId).toBe('users-system');
      expect(event?.Username).toBe('system');
      expect(event?.RelatedDocumentIds).toEqual(expect.arrayContaining([older.Id, older.TaskId]));
      // The newer one runs after the running one; the running one is not touched.
      advance(4_000);
      expect((await task(running)).State).toBe('Success');
      advance(4_000);
      expect((await task(newer)).State).toBe('Success');

      // A deployment that skips steps does not supersede anything.
      const blocker = await deploy('1.0.0', 'Development');
      const kept = await deploy('1.1.0', 'Development');
      await deploy('1.2.0', 'Development', { SkipActions: ['step-2'] });
      expect((await task(kept)).State).toBe('Queued');
      advance(20_000);
      expect((await task(blocker)).State).toBe('Success');
      expect((await task(kept)).State).toBe('Success');
    } finally {
      pausing.projectSettings({ project: 'App', cancelQueuedTasks: false });
    }
  });

  it('superseded (Cancel running tasks): a successful newer deployment cancels an older paused one via Cancelling', async () => {
    pausing.projectSettings({ project: 'App', cancelRunningTasks: true });
    try {
      pausing.script({ project: 'App', environment: 'Development', outcome: 'manualIntervention' });
      const paused = await deploy('1.2.0', 'Development');
      expect((await task(paused)).HasPendingInterruptions).toBe(true);
      // A task paused on a manual intervention does not hold its slot: the newer one runs meanwhile.
      const newer = await deploy('1.3.0', 'Development');
      advance(2_900);
      expect((await task(paused)).HasPendingInterruptions).toBe(true);
      advance(200);
      expect((await task(newer)).State).toBe('Success');
      expect((await task(paused)).State).toBe('Cancelling');
      advance(1_000);
      expect((await task(paused)).State).toBe('Canceled');
      expect(await pendingFor(paused.TaskId)).toEqual([]);
      const [event] = await cancelEvents(paused.TaskId);
      expect(event?.UserId).toBe('users-system');
    } finally {
      pausing.projectSettings({ project: 'App', cancelRunningTasks: false });
    }
  });

  it('documents interruptions, pauses and superseded tasks in GET /_sim', async () => {
    const doc = (await (await fetch(`${pausing.url}/_sim`)).json()) as { endpoints: Json[] };
    const text = JSON.stringify(doc.endpoints);
    expect(text).toContain('manualIntervention');
    expect(text).toContain('guidedFailure');
    expect(text).toContain('/interruptions/{id}/submit');
    expect(text).toContain('POST /_sim/project-settings');
    expect(text).toContain('Cancelling');
  });
});
