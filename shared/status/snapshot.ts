// The combined status of the configured project sets, read with one dynamic-dashboard call per space.
import { dashboardCell, type Dashboard, type DashboardItem } from '../octopus/dashboard.js';
import type { Runtime } from '../runtime/runtime.js';
import { octopusCallsMade, octopusForSpace, spaceOfSet } from '../runtime/spaceClients.js';

/** `failed`: a member's current deployment failed; `deploying`: one is queued or running. */
export type SetCellState = 'complete' | 'deploying' | 'failed' | 'incomplete';

export interface ProjectStatus {
  /** As named in the config. */
  project: string;
  projectId: string;
  /** The latest deployment in any state (queued, executing, failed, ...), if ever deployed. */
  current: DashboardItem | undefined;
  /** The current deployment if it succeeded, else the last successful one before it. */
  lastSuccessful: DashboardItem | undefined;
}

/** One set in one environment, for one tenant (or untenanted). */
export interface SetCell {
  set: string;
  space: string;
  spaceId: string;
  environment: string;
  environmentId: string;
  /** Null for an untenanted set. */
  tenant: { name: string; id: string } | null;
  projects: ProjectStatus[];
  state: SetCellState;
  /** Where the environment comes in the members' lifecycles (0 first), for showing them in that order. */
  environmentOrder: number;
}

/** What one space's dashboard call returned (locks and runs read their own items from here). */
export interface SpaceReading {
  space: string;
  spaceId: string;
  dashboard: Dashboard;
}

export interface StatusSnapshot {
  takenAt: Date;
  spaces: SpaceReading[];
  cells: SetCell[];
  /** Sets (or whole spaces, set "*") that could not be read, and why. */
  problems: { set: string; message: string }[];
  /** Octopus calls made to take this snapshot (name lookups are cached, so usually one per space). */
  octopusCalls: number;
}

const failedStates = new Set(['Failed', 'TimedOut']);
const activeStates = new Set(['Queued', 'Executing', 'Cancelling']);

export function cellState(projects: readonly ProjectStatus[]): SetCellState {
  const states = projects.map((p) => p.current?.State);
  if (states.some((s) => s !== undefined && failedStates.has(s))) return 'failed';
  if (states.some((s) => s !== undefined && activeStates.has(s))) return 'deploying';
  if (states.every((s) => s === 'Success')) return 'complete';
  return 'incomplete';
}

interface ResolvedSet {
  name: string;
  projects: { name: string; id: string }[];
  /** Environments named by the set's watches (shown and evaluated even where no lifecycle has them). */
  watched: { name: string; id: string }[];
  tenants: { name: string; id: string }[];
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Read the status of `sets` (default: every configured set). Name lookups are cached by the
 * client; the dashboard is read once per space with every project of those sets as the filter.
 */
export async function takeStatusSnapshot(
  runtime: Runtime,
  options: { sets?: readonly string[] } = {},
): Promise<StatusSnapshot> {
  const callsBefore = octopusCallsMade(runtime);
  const setNames = (options.sets ?? Object.keys(runtime.config.projectSets)).filter(
    (s) => s in runtime.config.projectSets,
  );
  const bySpace = new Map<string, string[]>();
  for (const name of setNames) {
    const space = spaceOfSet(runtime, name);
    bySpace.set(space, [...(bySpace.get(space) ?? []), name]);
  }
  const snapshot: StatusSnapshot = {
    takenAt: runtime.clock.now(),
    spaces: [],
    cells: [],
    problems: [],
    octopusCalls: 0,
  };
  await Promise.all(
    [...bySpace].map(async ([space, names]) => {
      try {
        await readSpace(runtime, space, names, snapshot);
      } catch (err) {
        for (const set of names)
          snapshot.problems.push({
            set,
            message: `Octopus space ${space} could not be read: ${describe(err)}`,
          });
      }
    }),
  );
  snapshot.cells.sort((a, b) => a.set.localeCompare(b.set));
  snapshot.octopusCalls = octopusCallsMade(runtime) - callsBefore;
  return snapshot;
}

async function resolveSet(runtime: Runtime, space: string, name: string): Promise<ResolvedSet> {
  const client = octopusForSpace(runtime, space);
  if (!client) throw new Error('Octopus is not configured (OCTOPUS_URL)');
  const set = runtime.config.projectSets[name];
  if (!set) throw new Error(`project set ${name} is not in the config`);
  const watches = runtime.config.watches.filter((w) => w.set === name);
  const pair = async (kind: 'project' | 'environment' | 'tenant', names: string[]) => {
    const ids = await client.resolve.ids(kind, names);
    return names.map((n, i) => ({ name: n, id: ids[i] ?? n }));
  };
  const environmentNames = unique(watches.flatMap((w) => w.environments));
  const tenantNames = unique([...(set.tenants ?? []), ...watches.flatMap((w) => w.tenants ?? [])]);
  const [projects, environments, tenants] = await Promise.all([
    pair('project', set.projects),
    pair('environment', environmentNames),
    pair('tenant', tenantNames),
  ]);
  return { name, projects, watched: environments, tenants };
}

async function readSpace(
  runtime: Runtime,
  space: string,
  names: string[],
  snapshot: StatusSnapshot,
): Promise<void> {
  const client = octopusForSpace(runtime, space);
  if (!client) throw new Error('Octopus is not configured: set OCTOPUS_URL and OCTOPUS_API_KEY');
  const resolved: ResolvedSet[] = [];
  await Promise.all(
    names.map(async (name) => {
      try {
        resolved.push(await resolveSet(runtime, space, name));
      } catch (err) {
        snapshot.problems.push({ set: name, message: describe(err) });
      }
    }),
  );
  if (resolved.length === 0) return;
  const spaceId = await client.spaceId();
  const dashboard = await client.dashboard.dynamic({
    projects: unique(resolved.flatMap((s) => s.projects.map((p) => p.id))),
    includePrevious: true,
  });
  snapshot.spaces.push({ space, spaceId, dashboard });
  if (dashboard.ProjectLimit) {
    const returned = new Set(dashboard.Projects.map((p) => p.Id));
    const missing = resolved.flatMap((s) => s.projects).filter((p) => !returned.has(p.id));
    if (missing.length > 0) {
      snapshot.problems.push({
        set: '*',
        message: `Octopus capped the dashboard at ${dashboard.ProjectLimit} projects, so ${missing.length} project(s) are missing (${missing
          .slice(0, 5)
          .map((p) => p.name)
          .join(
            ', ',
          )}); split the sets across spaces or raise the server's dashboard project limit.`,
      });
    }
  }
  for (const set of resolved) snapshot.cells.push(...cellsOf(set, space, spaceId, dashboard));
}

/**
 * Every environment of the set, in lifecycle order: the members' lifecycle environments (each
 * lifecycle's phase order, merged), then environments only a watch names; the dashboard's display
 * order (Octopus's SortOrder) decides between environments no lifecycle orders.
 */
export function setEnvironments(
  set: Pick<ResolvedSet, 'projects' | 'watched'>,
  dashboard: Pick<Dashboard, 'Projects' | 'Environments'>,
): { name: string; id: string }[] {
  const names = new Map(dashboard.Environments.map((e) => [e.Id, e.Name]));
  const display = (id: string) => {
    const i = dashboard.Environments.findIndex((e) => e.Id === id);
    return i === -1 ? Number.MAX_SAFE_INTEGER : i;
  };
  // Each member's lifecycle says "a before b"; merge them (a topological order), display order breaking ties.
  const before = new Map<string, Set<string>>();
  for (const member of set.projects) {
    const lifecycle = dashboard.Projects.find((p) => p.Id === member.id)?.EnvironmentIds ?? [];
    lifecycle.forEach((id, i) => {
      if (!before.has(id)) before.set(id, new Set());
      for (const earlier of lifecycle.slice(0, i)) if (earlier !== id) before.get(id)?.add(earlier);
    });
  }
  const ids: string[] = [];
  const left = new Set(before.keys());
  while (left.size > 0) {
    const ready = [...left].filter((id) => [...(before.get(id) ?? [])].every((e) => !left.has(e)));
    // A cycle (two lifecycles disagree): fall back to display order for what is left.
    const next = (ready.length > 0 ? ready : [...left]).sort((x, y) => display(x) - display(y))[0];
    if (next === undefined) break;
    ids.push(next);
    left.delete(next);
  }
  const out = ids.map((id) => ({ id, name: names.get(id) ?? id }));
  for (const w of set.watched) if (!out.some((e) => e.id === w.id)) out.push(w);
  return out;
}

function cellsOf(
  set: ResolvedSet,
  space: string,
  spaceId: string,
  dashboard: Dashboard,
): SetCell[] {
  const projectInfo = new Map(dashboard.Projects.map((p) => [p.Id, p]));
  const environments = setEnvironments(set, dashboard);
  const tenants: ({ name: string; id: string } | null)[] =
    set.tenants.length > 0 ? set.tenants : [null];
  const cells: SetCell[] = [];
  for (const [order, environment] of environments.entries()) {
    for (const tenant of tenants) {
      const projects = set.projects.map((p): ProjectStatus => {
        let cell = dashboardCell(dashboard, {
          projectId: p.id,
          environmentId: environment.id,
          tenantId: tenant?.id ?? null,
        });
        if (
          !cell.current &&
          tenant &&
          projectInfo.get(p.id)?.TenantedDeploymentMode === 'Untenanted'
        ) {
          // An untenanted member of a tenanted set counts for every tenant.
          cell = dashboardCell(dashboard, {
            projectId: p.id,
            environmentId: environment.id,
            tenantId: null,
          });
        }
        return {
          project: p.name,
          projectId: p.id,
          current: cell.current,
          lastSuccessful: cell.lastSuccessful,
        };
      });
      cells.push({
        set: set.name,
        space,
        spaceId,
        environment: environment.name,
        environmentId: environment.id,
        tenant,
        projects,
        state: cellState(projects),
        environmentOrder: order,
      });
    }
  }
  return cells;
}
