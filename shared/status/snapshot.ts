// The combined status of the configured project sets, read with one dynamic-dashboard call per space.
import { dashboardCell, type Dashboard, type DashboardItem } from '../octopus/index.js';
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
  /** Environments named by the set's watches; undefined = every environment its projects use. */
  environments: { name: string; id: string }[] | undefined;
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
    environmentNames.length > 0
      ? pair('environment', environmentNames)
      : Promise.resolve(undefined),
    pair('tenant', tenantNames),
  ]);
  return { name, projects, environments, tenants };
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

function cellsOf(
  set: ResolvedSet,
  space: string,
  spaceId: string,
  dashboard: Dashboard,
): SetCell[] {
  const projectInfo = new Map(dashboard.Projects.map((p) => [p.Id, p]));
  const environments =
    set.environments ??
    dashboard.Environments.filter((e) =>
      set.projects.some((p) => projectInfo.get(p.id)?.EnvironmentIds.includes(e.Id)),
    ).map((e) => ({
      name: e.Name,
      id: e.Id,
    }));
  const tenants: ({ name: string; id: string } | null)[] =
    set.tenants.length > 0 ? set.tenants : [null];
  const cells: SetCell[] = [];
  for (const environment of environments) {
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
      });
    }
  }
  return cells;
}
