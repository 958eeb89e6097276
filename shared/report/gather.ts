// Reads one day of deployments from Octopus in few calls: finished Deploy tasks paged (state, times,
// error), the deployments list paged newest first (project, environment, tenant, release, deployer)
// and joined by deployment id, stragglers and releases by id in batches, names from the dashboard.
import type { CoordinationConfig } from '../config/coordination/schema.js';
import { collect, type ResourceCollection } from '../octopus/paging.js';
import { taskPageLinks } from '../octopus/links.js';
import { matchNamed } from '../octopus/resolver.js';
import type { Deployment } from '../octopus/deployments.js';
import type { OctopusClient } from '../octopus/client.js';
import type { Release } from '../octopus/releases.js';
import type { ServerTask } from '../octopus/tasks.js';
import { pageShape } from '../octopus/context.js';
import type { JsonShape } from '../octopus/selectJson.js';
import type { DayWindow } from './dayWindow.js';
import type { ReportDeployment } from './model.js';
import { Codes, idNumber, RowTable } from './rowTable.js';
import { outcomeOf, type TotalsTally } from './summarize.js';

/** Items per page of tasks and of deployments: a busy day is a handful of calls (~1 KB an item). */
export const TASK_PAGE_SIZE = 1000;
/**
 * Ids per `?ids=` call. 400 ids of ~18 characters keep the URL near 8 KB, under the 16 KB request
 * line limits of common servers (and Node's, which the simulator runs on).
 */
export const IDS_PER_CALL = 400;
/**
 * How far before the day's start the deployments list is read for deployments that were created
 * before the day and finished in it. Paging stops earlier once every finished task's deployment has
 * been seen. A deployment created before this (scheduled ahead with QueueTime, or queued or paused
 * for over an hour) is read by id instead: one call per 400 such stragglers, where reading further
 * back costs a page per 1,000 deployments of history (an hour is a page only at 24,000 a day).
 */
export const LOOKBACK_MS = 60 * 60_000;
/** A deployment's `Created` is at or before its task's `QueueTime` (equal unless scheduled); allow for clock skew. */
const CREATED_SLACK_MS = 5 * 60_000;
/** What the report reads of each task: the rest of a page (~1.5 KB a task) is never decoded. */
const TASK_FIELDS: JsonShape = {
  Id: true,
  State: true,
  Arguments: { DeploymentId: true },
  ErrorMessage: true,
  QueueTime: true,
  StartTime: true,
  CompletedTime: true,
  ProjectId: true,
  Links: { Web: true },
};
/** What the day before's totals read of each task. */
const TASK_TOTALS_FIELDS: JsonShape = { State: true, StartTime: true, CompletedTime: true };
/** What the report reads of each deployment. */
const DEPLOYMENT_FIELDS: JsonShape = {
  Id: true,
  Created: true,
  ProjectId: true,
  EnvironmentId: true,
  TenantId: true,
  ReleaseId: true,
  DeployedBy: true,
};
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

/** In a code column: no value. */
const NONE = -1;

/** A state the report counts: not queued, executing or cancelling. */
function isFinished(state: string): boolean {
  return state !== 'Queued' && state !== 'Executing' && state !== 'Cancelling';
}

/**
 * Each finished Deploy task whose completion lies in [start, end), with its completion time and the
 * list's total (read a page at a time: one await per page, not one per task).
 */
async function eachFinishedTask(
  client: OctopusClient,
  window: DayWindow,
  pageSize: number,
  fields: JsonShape,
  visit: (task: ServerTask, completed: number, total: number | undefined) => void,
): Promise<void> {
  const start = window.start.getTime();
  const end = window.end.getTime();
  // Whether Octopus's date bounds are inclusive is unconfirmed: ask for the closed range, filter here.
  const list = client.tasks.list({
    name: 'Deploy',
    fromCompletedDate: window.start,
    toCompletedDate: window.end,
    pageSize,
    fields,
  });
  for await (const page of list.byPage()) {
    for (const task of page.items) {
      const completed = time(task.CompletedTime);
      if (completed === undefined || completed < start || completed >= end) continue;
      if (!isFinished(task.State)) continue;
      visit(task, completed, page.totalResults);
    }
  }
}

/**
 * Finished Deploy tasks whose completion lies in [start, end): the day's rows, by position, with
 * the project id and queue time that joining and scoping need (see RowTable).
 */
async function finishedTasks(
  client: OctopusClient,
  space: string,
  window: DayWindow,
  pageSize: number,
): Promise<RowTable> {
  const links = taskPageLinks(client.url, await client.spaceId());
  const table = new RowTable(space, links.prefix);
  await eachFinishedTask(client, window, pageSize, TASK_FIELDS, (task, completed, total) => {
    // The list's total is known with its first page: the columns are allocated once.
    if (table.length === 0 && total !== undefined) table.reserve(total);
    const started = time(task.StartTime);
    const outcome = outcomeOf(task.State);
    table.add({
      taskId: task.Id,
      deploymentId: deploymentIdOf(task) ?? '',
      state: task.State,
      outcome,
      started,
      completed,
      queued: time(task.QueueTime) ?? started ?? Number.NaN,
      error: outcome === 'Success' ? '' : (task.ErrorMessage ?? ''),
      projectId: task.ProjectId ?? undefined,
      taskUrl: links.unusual(task.Id, task.Links?.Web),
    });
  });
  return table;
}

/** Outcomes and durations of the finished Deploy tasks in [start, end), without keeping the tasks. */
async function tallyFinishedTasks(
  client: OctopusClient,
  window: DayWindow,
  pageSize: number,
  tally: TotalsTally,
): Promise<void> {
  await eachFinishedTask(client, window, pageSize, TASK_TOTALS_FIELDS, (task, completed) => {
    const started = time(task.StartTime);
    tally.add(
      outcomeOf(task.State),
      started === undefined ? undefined : Math.max(0, completed - started),
    );
  });
}

interface Named {
  Id: string;
  Name: string;
}

type NameKind = 'projects' | 'environments' | 'tenants';

/**
 * Names of projects, environments (in display order) and tenants. The dashboard has all three in
 * one call (and release versions of current deployments); the `/all` list of a kind is read only
 * when an id or a scope name is missing from it (a server may truncate the dashboard, see
 * `ProjectLimit`, or leave out disabled projects).
 */
class NameBook {
  private readonly lists = new Map<NameKind, Named[]>();
  private readonly complete = new Set<NameKind>();
  private readonly byId = new Map<NameKind, Map<string, { name: string; order: number }>>();
  readonly versions = new Map<string, string>();

  constructor(private readonly client: OctopusClient) {}

  async load(): Promise<void> {
    const dashboard = await this.client.dashboard.get();
    this.set('projects', dashboard.Projects);
    this.set('environments', dashboard.Environments);
    this.set('tenants', dashboard.Tenants ?? []);
    for (const item of dashboard.Items)
      if (item.ReleaseVersion) this.versions.set(item.ReleaseId, item.ReleaseVersion);
  }

  private set(kind: NameKind, items: readonly Named[], complete = false): void {
    this.lists.set(
      kind,
      items.map((i) => ({ Id: i.Id, Name: i.Name })),
    );
    this.byId.set(kind, new Map(items.map((i, order) => [i.Id, { name: i.Name, order }])));
    if (complete) this.complete.add(kind);
  }

  private async loadAll(kind: NameKind): Promise<void> {
    if (this.complete.has(kind)) return;
    const items =
      kind === 'projects'
        ? await this.client.projects.all()
        : kind === 'environments'
          ? await this.client.environments.all()
          : await this.client.tenants.all();
    this.set(kind, items, true);
  }

  /** Reads a kind's `/all` list if any of these ids is not known yet. */
  async ensure(kind: NameKind, ids: Iterable<string>): Promise<void> {
    const known = this.byId.get(kind);
    for (const id of ids) {
      if (!known?.has(id)) return this.loadAll(kind);
    }
  }

  get(kind: NameKind, id: string): { name: string; order: number } | undefined {
    return this.byId.get(kind)?.get(id);
  }

  /** Ids of the scope's names; undefined when the scope names none. */
  async resolve(
    kind: 'projects' | 'environments',
    wanted: readonly string[],
    space: string,
    notes: string[],
  ): Promise<Set<string> | undefined> {
    if (wanted.length === 0) return undefined;
    const match = (name: string): Named | undefined => matchNamed(this.lists.get(kind) ?? [], name);
    if (wanted.some((name) => !match(name))) await this.loadAll(kind);
    const ids = new Set<string>();
    const singular = kind === 'projects' ? 'project' : 'environment';
    for (const name of wanted) {
      const found = match(name);
      if (found) ids.add(found.Id);
      else
        notes.push(
          `The ${singular} "${name}" named in the report scope does not exist in space ${space}; check the coordination config.`,
        );
    }
    return ids;
  }
}

function isDeploymentPage(value: unknown): value is ResourceCollection<Deployment> {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as { Items?: unknown }).Items)
  );
}

/**
 * What the report keeps of the deployments of a day's tasks, by slot (one per distinct deployment
 * id): codes of the project, environment, tenant, release and deployer, NONE where unread.
 */
class DeploymentFacts {
  readonly slotOf: Int32Array;
  readonly project: Int32Array;
  readonly environment: Int32Array;
  readonly tenant: Int32Array;
  readonly release: Int32Array;
  readonly deployedBy: Int32Array;
  readonly ids = new Codes<string | null | undefined>();

  constructor(
    /** Slot of each task (by position), NONE for a task without a deployment id. */
    slotOf: Int32Array,
    slots: number,
  ) {
    this.slotOf = slotOf;
    this.project = new Int32Array(slots).fill(NONE);
    this.environment = new Int32Array(slots).fill(NONE);
    this.tenant = new Int32Array(slots).fill(NONE);
    this.release = new Int32Array(slots).fill(NONE);
    this.deployedBy = new Int32Array(slots).fill(NONE);
  }

  set(slot: number, d: Deployment): void {
    this.project[slot] = this.ids.code(d.ProjectId);
    this.environment[slot] = this.ids.code(d.EnvironmentId);
    this.tenant[slot] = this.ids.code(d.TenantId);
    this.release[slot] = this.ids.code(d.ReleaseId);
    this.deployedBy[slot] = this.ids.code(d.DeployedBy);
  }

  /** The slot of a task whose deployment was read, else NONE. */
  readSlot(task: number): number {
    const slot = this.slotOf[task] ?? NONE;
    return slot === NONE || this.project[slot] === NONE ? NONE : slot;
  }

  value(column: Int32Array, slot: number): string | null | undefined {
    return this.ids.values[column[slot] ?? NONE];
  }
}

const DEPLOYMENT_ID_PREFIX = 'Deployments-';

/**
 * One slot per distinct deployment id of the tasks to join, and each task's slot. Ids of the usual
 * form are found by their number in a sorted array, others in a map: no string and no map entry per
 * deployment.
 */
export class DeploymentSlots {
  /** Slot of each task (by position), NONE for a task without a deployment id. */
  readonly slotOf: Int32Array;
  private readonly numbers: Float64Array;
  private readonly others = new Map<string, number>();
  /** Ids of the other form, by slot less the numbers' count. */
  private readonly otherIds: string[] = [];
  readonly size: number;

  constructor(table: RowTable, count: number, at: (w: number) => number) {
    const ids = table.deploymentIds;
    const all = new Float64Array(count);
    let n = 0;
    for (let w = 0; w < count; w++) {
      const number = ids.number(at(w));
      if (!Number.isNaN(number)) all[n++] = number;
    }
    const sorted = all.subarray(0, n).sort();
    let distinct = 0;
    for (let k = 0; k < n; k++) {
      const number = sorted[k] ?? 0;
      if (distinct === 0 || number !== sorted[distinct - 1]) sorted[distinct++] = number;
    }
    this.numbers = sorted.slice(0, distinct);
    this.slotOf = new Int32Array(table.length).fill(NONE);
    for (let w = 0; w < count; w++) {
      const task = at(w);
      const number = ids.number(task);
      let slot: number | undefined;
      if (!Number.isNaN(number)) slot = this.search(number);
      else {
        const id = ids.get(task);
        if (id === '') continue;
        slot = this.others.get(id);
        if (slot === undefined) {
          slot = distinct + this.others.size;
          this.others.set(id, slot);
          this.otherIds.push(id);
        }
      }
      this.slotOf[task] = slot;
    }
    this.size = distinct + this.others.size;
  }

  private search(number: number): number {
    let lo = 0;
    let hi = this.numbers.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const at = this.numbers[mid] ?? 0;
      if (at === number) return mid;
      if (at < number) lo = mid + 1;
      else hi = mid - 1;
    }
    return NONE;
  }

  /** The slot of a deployment id, NONE when no task names it. */
  find(id: string): number {
    const number = idNumber(DEPLOYMENT_ID_PREFIX, id);
    return Number.isNaN(number) ? (this.others.get(id) ?? NONE) : this.search(number);
  }

  /** The deployment id of a slot. */
  idOf(slot: number): string {
    if (slot < this.numbers.length) return DEPLOYMENT_ID_PREFIX + String(this.numbers[slot]);
    return this.otherIds[slot - this.numbers.length] ?? '';
  }
}

/**
 * The deployments of these tasks. Pages the deployments list (newest first by `Created`) until
 * every task's deployment has been seen or the list reaches deployments created before the floor
 * (the earliest unseen task's queue time less a little, but no earlier than LOOKBACK_MS before the
 * day); the rest are read by id. When the first page holds only deployments created after the day
 * (a report for an earlier date), one task count finds where the day begins and paging skips there.
 */
async function deploymentsOf(
  client: OctopusClient,
  tasks: RowTable,
  /** Positions of the tasks to join; undefined for all. */
  wanted: readonly number[] | undefined,
  window: DayWindow,
  pageSize: number,
  idsPerCall: number,
  projects: Set<string> | undefined,
): Promise<DeploymentFacts> {
  const start = window.start.getTime();
  const end = window.end.getTime();
  // One slot per distinct deployment id; a task's deployment is unseen until a page names it.
  const count = wanted?.length ?? tasks.length;
  const at = (w: number): number => (wanted ? (wanted[w] ?? 0) : w);
  const slots = new DeploymentSlots(tasks, count, at);
  const slotQueued = new Float64Array(slots.size);
  for (let w = 0; w < count; w++) {
    const task = at(w);
    const slot = slots.slotOf[task] ?? NONE;
    if (slot === NONE) continue;
    const queued = tasks.queued[task] ?? Number.NaN;
    slotQueued[slot] = Number.isNaN(queued)
      ? (tasks.startedOf(task) ?? tasks.completedOf(task))
      : queued;
  }
  const facts = new DeploymentFacts(slots.slotOf, slots.size);
  let unseen = slots.size;
  if (unseen === 0) return facts;
  const spaceId = await client.spaceId();
  const floorCap = start - LOOKBACK_MS;
  // The earliest unseen queue time after each page: slots in queue order, and a cursor past the
  // seen ones (scanning every unseen slot per page would be quadratic in the day's size).
  const byQueued = new Int32Array(unseen);
  for (let slot = 0; slot < byQueued.length; slot++) byQueued[slot] = slot;
  byQueued.sort((a, b) => (slotQueued[a] ?? 0) - (slotQueued[b] ?? 0));
  let cursor = 0;
  const floor = (): number => {
    while (cursor < byQueued.length && facts.project[byQueued[cursor] ?? 0] !== NONE) cursor += 1;
    const next = byQueued[cursor];
    const earliest = next === undefined ? Number.POSITIVE_INFINITY : (slotQueued[next] ?? 0);
    return Math.max(floorCap, earliest - CREATED_SLACK_MS);
  };
  let skip = 0;
  for (let pageNumber = 0; unseen > 0; pageNumber++) {
    const page = await client.getLink(
      `/api/${spaceId}/deployments{?skip,take,projects}`,
      { skip, take: pageSize, projects: projects ? [...projects] : undefined },
      { select: pageShape(DEPLOYMENT_FIELDS) },
    );
    if (!isDeploymentPage(page)) {
      throw new Error(
        `Octopus answered the deployments list of space ${spaceId} with something other than a page of deployments.`,
      );
    }
    let oldest = Number.POSITIVE_INFINITY;
    for (const d of page.Items) {
      const slot = slots.find(d.Id);
      if (slot !== NONE && facts.project[slot] === NONE) {
        unseen -= 1;
        facts.set(slot, d);
      }
      const created = time(d.Created);
      if (created !== undefined && created < oldest) oldest = created;
    }
    skip += page.Items.length;
    const applied = Math.min(page.ItemsPerPage ?? pageSize, pageSize);
    if (page.Items.length === 0 || page.Items.length < applied) break;
    if (typeof page.TotalResults === 'number' && skip >= page.TotalResults) break;
    if (oldest < floor()) break;
    if (pageNumber === 0 && oldest >= end) {
      // Tasks queued since the day ended are at least the deployments created since (a deployment
      // is created no later than its task is queued); any overshoot leaves a few stragglers.
      let count = 0;
      const since = client.tasks.list({
        name: 'Deploy',
        fromQueueDate: window.end,
        pageSize: 1,
        maxItems: 1,
      });
      for await (const first of since.byPage()) {
        count = first.totalResults ?? 0;
        break;
      }
      skip = Math.max(skip, count - Math.floor(pageSize / 20));
    }
  }
  if (unseen > 0) {
    const ids: string[] = [];
    for (let slot = 0; slot < slots.size; slot++)
      if (facts.project[slot] === NONE) ids.push(slots.idOf(slot));
    const stragglers = await inBatches(ids, idsPerCall, async (batch) =>
      collect(client.deployments.list({ ids: batch, pageSize: batch.length })),
    );
    for (const d of stragglers) {
      const slot = slots.find(d.Id);
      if (slot !== NONE) facts.set(slot, d);
    }
  }
  return facts;
}

/** Release versions by id: the dashboard's where it has them, the rest by id in batches. */
async function versionsOf(
  client: OctopusClient,
  releaseIds: Iterable<string>,
  known: ReadonlyMap<string, string>,
  idsPerCall: number,
): Promise<Map<string, string>> {
  const versions = new Map<string, string>();
  const wanted: string[] = [];
  for (const id of releaseIds) {
    const version = known.get(id);
    if (version) versions.set(id, version);
    else wanted.push(id);
  }
  if (wanted.length === 0) return versions;
  const spaceId = await client.spaceId();
  const releases = await inBatches<Release>(wanted, idsPerCall, async (batch) => {
    const page = await client.getLink(
      `/api/${spaceId}/releases{?ids,take}`,
      { ids: batch, take: batch.length },
      { select: pageShape({ Id: true, Version: true }) },
    );
    const items = (page as { Items?: unknown } | null)?.Items;
    return Array.isArray(items) ? (items as Release[]) : [];
  });
  for (const r of releases) versions.set(r.Id, r.Version);
  return versions;
}

/**
 * Positions of the tasks whose ProjectId (when the server gives one) is in the filter; undefined
 * (all of them) without a filter, so an unscoped day of 50,000 builds no list of positions.
 */
function tasksInProjects(tasks: RowTable, filter: Set<string> | undefined): number[] | undefined {
  if (!filter) return undefined;
  const wanted: number[] = [];
  for (let i = 0; i < tasks.length; i++) {
    const projectId = tasks.taskProjectId(i);
    if (!projectId || filter.has(projectId)) wanted.push(i);
  }
  return wanted;
}

/**
 * Reads one space's day. Calls: ceil(tasks / pageSize) + about ceil(deployments since the day's
 * first / pageSize) + ceil(stragglers / idsPerCall) + ceil(releases / idsPerCall) + 2 (dashboard,
 * space), plus one when reporting an earlier date and `/all` lists for names the dashboard lacks.
 */
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
  const names = needNames ? new NameBook(client) : undefined;
  // Both run at once; a failure of either is reported once the other settles.
  const [tasksResult, namesResult] = await Promise.allSettled([
    finishedTasks(client, space, window, pageSize),
    names?.load(),
  ]);
  if (tasksResult.status === 'rejected') throw tasksResult.reason;
  if (namesResult.status === 'rejected') throw namesResult.reason;
  const tasks = tasksResult.value;
  // Positions of tasks: a list, or undefined for all of them.
  type Positions = readonly number[] | undefined;
  const countOf = (positions: Positions): number => positions?.length ?? tasks.length;
  const at = (positions: Positions, w: number): number => (positions ? (positions[w] ?? 0) : w);
  const rowsOf = (positions: Positions): ReportDeployment[] => tasks.rows(positions);

  const projectFilter = names
    ? await names.resolve('projects', scope.projects, space, notes)
    : undefined;
  const environmentFilter = names
    ? await names.resolve('environments', scope.environments, space, notes)
    : undefined;
  // Newer servers put ProjectId on the task: filter before any lookup.
  const inProjects = tasksInProjects(tasks, projectFilter);
  const projectIdOf = (i: number): string | undefined => tasks.taskProjectId(i);

  if (
    options.totalsOnly &&
    !environmentFilter &&
    !(projectFilter && inProjects?.some((i) => !projectIdOf(i)))
  ) {
    return { rows: rowsOf(inProjects), notes };
  }

  // The deployments list is filtered by project only when every task is known to be in scope:
  // a task missing from a filtered list could not be told apart from one created long ago.
  const listProjects =
    projectFilter && projectFilter.size > 0 && inProjects?.every((i) => projectIdOf(i))
      ? projectFilter
      : undefined;
  const facts = await deploymentsOf(
    client,
    tasks,
    inProjects,
    window,
    pageSize,
    idsPerCall,
    listProjects,
  );
  const wantedTasks: Positions =
    !projectFilter && !environmentFilter
      ? inProjects
      : Array.from({ length: countOf(inProjects) }, (_, w) => at(inProjects, w)).filter((i) => {
          const slot = facts.readSlot(i);
          if (slot === NONE) return false;
          return (
            (!projectFilter || projectFilter.has(facts.value(facts.project, slot) as string)) &&
            (!environmentFilter ||
              environmentFilter.has(facts.value(facts.environment, slot) as string))
          );
        });
  if (options.totalsOnly || !names) return { rows: rowsOf(wantedTasks), notes };

  // Each distinct id once: codes of the deployments' fields, then the values they stand for.
  const usedCodes = {
    projects: new Set<number>(),
    environments: new Set<number>(),
    tenants: new Set<number>(),
    releases: new Set<number>(),
  };
  const taskProjects = new Set<string>();
  const wantedCount = countOf(wantedTasks);
  for (let w = 0; w < wantedCount; w++) {
    const i = at(wantedTasks, w);
    const slot = facts.readSlot(i);
    if (slot !== NONE) {
      usedCodes.projects.add(facts.project[slot] ?? NONE);
      usedCodes.environments.add(facts.environment[slot] ?? NONE);
      if (facts.value(facts.tenant, slot)) usedCodes.tenants.add(facts.tenant[slot] ?? NONE);
      usedCodes.releases.add(facts.release[slot] ?? NONE);
    } else {
      const projectId = projectIdOf(i);
      if (projectId) taskProjects.add(projectId);
    }
  }
  const valuesOf = (codes: Set<number>): string[] =>
    [...codes].map((code) => facts.ids.values[code] as string);
  const used = {
    projects: new Set([...valuesOf(usedCodes.projects), ...taskProjects]),
    environments: valuesOf(usedCodes.environments),
    tenants: valuesOf(usedCodes.tenants),
    releases: valuesOf(usedCodes.releases),
  };
  const [versions] = await Promise.all([
    versionsOf(client, used.releases, names.versions, idsPerCall),
    names.ensure('projects', used.projects),
    names.ensure('environments', used.environments),
    names.ensure('tenants', used.tenants),
  ]);

  // Names by code, each looked up once.
  const projectName = (id: string): string => names.get('projects', id)?.name ?? id;
  const byCode = new Map<number, { name: string; order: number }>();
  let missing = 0;
  for (let w = 0; w < wantedCount; w++) {
    const i = at(wantedTasks, w);
    const slot = facts.readSlot(i);
    if (slot === NONE) {
      missing += 1;
      const projectId = projectIdOf(i);
      if (projectId) tasks.setProject(i, projectName(projectId));
    } else {
      const projectId = facts.value(facts.project, slot) as string;
      tasks.setProject(i, projectName(projectId));
      const envCode = facts.environment[slot] ?? NONE;
      let env = byCode.get(envCode);
      if (!env) {
        const environmentId = facts.ids.values[envCode] as string;
        const named = names.get('environments', environmentId);
        env = {
          name: named?.name ?? environmentId,
          order: named?.order ?? Number.MAX_SAFE_INTEGER,
        };
        byCode.set(envCode, env);
      }
      const tenantId = facts.value(facts.tenant, slot);
      const releaseId = facts.value(facts.release, slot) as string;
      tasks.setDeployment(i, {
        environment: env.name,
        environmentOrder: env.order,
        tenant: tenantId ? (names.get('tenants', tenantId)?.name ?? tenantId) : undefined,
        version: versions.get(releaseId) ?? releaseId,
        deployedBy: facts.value(facts.deployedBy, slot) ?? 'unknown',
      });
    }
  }
  if (missing > 0) {
    notes.push(
      `${missing} deployment${missing === 1 ? '' : 's'} in space ${space} could not be read (deleted by retention?); they are listed with what their task records.`,
    );
  }
  // Views of the table's rows, filled in place above: one small object per row, the fields in columns.
  return { rows: rowsOf(wantedTasks), notes };
}

/**
 * Totals of one space's day (for the day before's change). Without a project or environment scope
 * only the tasks are read, and none is kept; a scoped day is read as gatherSpace does.
 */
export async function tallySpace(
  client: OctopusClient,
  space: string,
  window: DayWindow,
  scope: ReportScope,
  tally: TotalsTally,
  options: Pick<GatherOptions, 'pageSize' | 'idsPerCall'> = {},
): Promise<void> {
  if (scope.projects.length === 0 && scope.environments.length === 0) {
    await tallyFinishedTasks(client, window, options.pageSize ?? TASK_PAGE_SIZE, tally);
    return;
  }
  const day = await gatherSpace(client, space, window, scope, { ...options, totalsOnly: true });
  for (const row of day.rows) tally.add(row.outcome, row.durationMs);
}
