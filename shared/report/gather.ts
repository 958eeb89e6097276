// Reads one day of deployments from Octopus in few calls: finished Deploy tasks paged with a large
// take, their deployments and releases by id in batches, names from the `/all` lists.
import type { CoordinationConfig } from '../config/coordination/schema.js';
import {
  collect,
  linkToUrl,
  matchNamed,
  type Deployment,
  type Environment,
  type OctopusClient,
  type Project,
  type Release,
  type ServerTask,
  type Tenant,
} from '../octopus/index.js';
import type { DayWindow } from './dayWindow.js';
import type { Outcome, ReportDeployment } from './model.js';
import { outcomeOf } from './summarize.js';

/** Tasks per page. Large, so a busy day is a handful of calls; a page of tasks is ~1 KB each. */
export const TASK_PAGE_SIZE = 1000;
/**
 * Ids per `?ids=` call. 400 ids of ~18 characters keep the URL near 8 KB, under the 16 KB request
 * line limits of common servers (and Node's, which the simulator runs on).
 */
export const IDS_PER_CALL = 400;
/** Batches fetched at once. */
const PARALLEL_BATCHES = 4;

export interface ReportScope {
  spaces: string[];
  /** Set names, for the scope line. */
  sets: string[];
  /** Project names from the sets; empty means every project. */
  projects: string[];
  /** Environment names; empty means every environment. */
  environments: string[];
}

export function scopeFromConfig(config: CoordinationConfig, defaultSpace: string): ReportScope {
  const report = config.report;
  const sets = report?.sets ?? [];
  const projects = [...new Set(sets.flatMap((name) => config.projectSets[name]?.projects ?? []))];
  return {
    spaces:
      report?.spaces && report.spaces.length > 0 ? report.spaces : [config.space ?? defaultSpace],
    sets,
    projects,
    environments: report?.environments ?? [],
  };
}

export function describeScope(scope: ReportScope): string {
  const parts = [`${scope.spaces.length === 1 ? 'space' : 'spaces'} ${scope.spaces.join(', ')}`];
  if (scope.sets.length > 0)
    parts.push(`${scope.sets.length === 1 ? 'set' : 'sets'} ${scope.sets.join(', ')}`);
  if (scope.environments.length > 0) parts.push(`environments ${scope.environments.join(', ')}`);
  return parts.join('; ');
}

export interface GatherOptions {
  pageSize?: number;
  idsPerCall?: number;
  /** Only outcomes and durations (for the day before): skips releases and, when possible, deployments. */
  totalsOnly?: boolean;
}

export interface GatheredDay {
  rows: ReportDeployment[];
  notes: string[];
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Runs batch fetches a few at a time and concatenates the results. */
async function inBatches<T>(
  ids: readonly string[],
  size: number,
  fetch: (batch: string[]) => Promise<T[]>,
): Promise<T[]> {
  const batches = chunk(ids, size);
  const out: T[] = [];
  for (let i = 0; i < batches.length; i += PARALLEL_BATCHES) {
    const results = await Promise.all(batches.slice(i, i + PARALLEL_BATCHES).map(fetch));
    for (const r of results) out.push(...r);
  }
  return out;
}

function time(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function deploymentIdOf(task: ServerTask): string | undefined {
  const id = task.Arguments?.DeploymentId;
  return typeof id === 'string' ? id : undefined;
}

/** What the report keeps of a task: raw pages are dropped as they are read, so a busy day stays small. */
interface FinishedTask {
  row: ReportDeployment;
  projectId: string | undefined;
  webLink: string | undefined;
}

/** What the report keeps of a deployment. */
interface DeploymentFacts {
  projectId: string;
  environmentId: string;
  tenantId: string | null | undefined;
  releaseId: string;
  deployedBy: string | undefined;
}

/** Finished Deploy tasks whose completion lies in [start, end). */
async function finishedTasks(
  client: OctopusClient,
  space: string,
  window: DayWindow,
  pageSize: number,
): Promise<FinishedTask[]> {
  const start = window.start.getTime();
  const end = window.end.getTime();
  const tasks: FinishedTask[] = [];
  // Whether Octopus's date bounds are inclusive is unconfirmed: ask for the closed range, filter here.
  const list = client.tasks.list({
    name: 'Deploy',
    fromCompletedDate: window.start,
    toCompletedDate: window.end,
    pageSize,
  });
  for await (const task of list) {
    const completed = time(task.CompletedTime);
    if (completed === undefined || completed < start || completed >= end) continue;
    if (task.State === 'Queued' || task.State === 'Executing' || task.State === 'Cancelling')
      continue;
    tasks.push({
      row: rowFromTask(task, space),
      projectId: task.ProjectId ?? undefined,
      webLink: task.Links?.Web,
    });
  }
  return tasks;
}

interface Names {
  projects: Project[];
  environments: Environment[];
  tenants: Tenant[];
}

function resolveFilter(
  wanted: readonly string[],
  items: readonly { Id: string; Name: string }[],
  kind: string,
  space: string,
  notes: string[],
): Set<string> | undefined {
  if (wanted.length === 0) return undefined;
  const ids = new Set<string>();
  for (const name of wanted) {
    const match = matchNamed(items as { Id: string; Name: string }[], name);
    if (match) ids.add(match.Id);
    else
      notes.push(
        `The ${kind} "${name}" named in the report scope does not exist in space ${space}; check the coordination config.`,
      );
  }
  return ids;
}

/** Reads one space's day. Calls: ceil(tasks / pageSize) + ceil(deployments / idsPerCall) + ceil(releases / 100) + 3. */
export async function gatherSpace(
  client: OctopusClient,
  space: string,
  window: DayWindow,
  scope: ReportScope,
  options: GatherOptions = {},
): Promise<GatheredDay> {
  const pageSize = options.pageSize ?? TASK_PAGE_SIZE;
  const idsPerCall = options.idsPerCall ?? IDS_PER_CALL;
  const notes: string[] = [];
  const needNames =
    !options.totalsOnly || scope.projects.length > 0 || scope.environments.length > 0;
  const namesPromise: Promise<Names | undefined> = needNames
    ? Promise.all([
        client.projects.all(),
        client.environments.all(),
        options.totalsOnly && scope.environments.length === 0
          ? Promise.resolve([])
          : client.tenants.all(),
      ]).then(([projects, environments, tenants]) => ({ projects, environments, tenants }))
    : Promise.resolve(undefined);
  // Both run at once; a failure of either is reported once the other settles.
  const [tasksResult, namesResult] = await Promise.allSettled([
    finishedTasks(client, space, window, pageSize),
    namesPromise,
  ]);
  if (tasksResult.status === 'rejected') throw tasksResult.reason;
  if (namesResult.status === 'rejected') throw namesResult.reason;
  let tasks = tasksResult.value;
  const names = namesResult.value;

  const projectFilter = names
    ? resolveFilter(scope.projects, names.projects, 'project', space, notes)
    : undefined;
  const environmentFilter = names
    ? resolveFilter(scope.environments, names.environments, 'environment', space, notes)
    : undefined;
  // Newer servers put ProjectId on the task: filter before any lookup.
  if (projectFilter) tasks = tasks.filter((t) => !t.projectId || projectFilter.has(t.projectId));

  if (
    options.totalsOnly &&
    !environmentFilter &&
    !tasks.some((t) => projectFilter && !t.projectId)
  ) {
    return { rows: tasks.map((t) => t.row), notes };
  }

  const deploymentIds = [
    ...new Set(tasks.map((t) => t.row.deploymentId).filter((id) => id !== '')),
  ];
  const deployments = await inBatches<[string, DeploymentFacts]>(
    deploymentIds,
    idsPerCall,
    async (batch) =>
      (await collect(client.deployments.list({ ids: batch, pageSize: batch.length }))).map(
        (d: Deployment) => [
          d.Id,
          {
            projectId: d.ProjectId,
            environmentId: d.EnvironmentId,
            tenantId: d.TenantId,
            releaseId: d.ReleaseId,
            deployedBy: d.DeployedBy,
          },
        ],
      ),
  );
  const deploymentById = new Map(deployments);
  const wantedTasks = tasks.filter((t) => {
    const d = deploymentById.get(t.row.deploymentId);
    if (!d) return !projectFilter && !environmentFilter;
    return (
      (!projectFilter || projectFilter.has(d.projectId)) &&
      (!environmentFilter || environmentFilter.has(d.environmentId))
    );
  });
  if (options.totalsOnly) return { rows: wantedTasks.map((t) => t.row), notes };

  const releaseIds = [
    ...new Set(
      wantedTasks
        .map((t) => deploymentById.get(t.row.deploymentId)?.releaseId)
        .filter((id): id is string => !!id),
    ),
  ];
  const releases: Release[] =
    releaseIds.length > 0 ? await client.releases.getMany(releaseIds) : [];
  const releaseById = new Map(releases.map((r) => [r.Id, r]));
  const projectById = new Map((names?.projects ?? []).map((p) => [p.Id, p.Name]));
  const environmentById = new Map(
    (names?.environments ?? []).map((e, i) => [e.Id, { name: e.Name, order: e.SortOrder ?? i }]),
  );
  const tenantById = new Map((names?.tenants ?? []).map((t) => [t.Id, t.Name]));
  const spaceId = await client.spaceId();

  let missing = 0;
  const origin = new URL(client.url).origin;
  const rows = wantedTasks.map((task) => {
    const row = task.row;
    const d = deploymentById.get(row.deploymentId);
    if (!d) {
      missing += 1;
      if (task.projectId) row.project = projectById.get(task.projectId) ?? task.projectId;
    } else {
      row.project = projectById.get(d.projectId) ?? d.projectId;
      const env = environmentById.get(d.environmentId);
      row.environment = env?.name ?? d.environmentId;
      row.environmentOrder = env?.order ?? Number.MAX_SAFE_INTEGER;
      row.tenant = d.tenantId ? (tenantById.get(d.tenantId) ?? d.tenantId) : undefined;
      row.version = releaseById.get(d.releaseId)?.Version ?? d.releaseId;
      row.deployedBy = d.deployedBy ?? 'unknown';
    }
    // Links are paths from the server root (see linkToUrl); joining to the origin once is cheaper per row.
    row.taskUrl = task.webLink
      ? task.webLink.startsWith('/')
        ? `${origin}${task.webLink}`
        : linkToUrl(client.url, task.webLink)
      : `${client.url}/app#/${spaceId}/tasks/${encodeURIComponent(row.taskId)}`;
    return row;
  });
  if (missing > 0) {
    notes.push(
      `${missing} deployment${missing === 1 ? '' : 's'} in space ${space} could not be read (deleted by retention?); they are listed with what their task records.`,
    );
  }
  return { rows, notes };
}

function rowFromTask(task: ServerTask, space: string): ReportDeployment {
  const started = time(task.StartTime);
  const completed = time(task.CompletedTime) ?? 0;
  const outcome: Outcome = outcomeOf(task.State);
  return {
    space,
    deploymentId: deploymentIdOf(task) ?? '',
    taskId: task.Id,
    project: 'unknown project',
    environment: 'unknown environment',
    environmentOrder: Number.MAX_SAFE_INTEGER,
    tenant: undefined,
    version: '',
    outcome,
    state: task.State,
    started,
    completed,
    durationMs: started === undefined ? undefined : Math.max(0, completed - started),
    deployedBy: 'unknown',
    error: outcome === 'Success' ? '' : (task.ErrorMessage ?? ''),
    taskUrl: undefined,
  };
}
