// The dashboard and dynamic dashboard: current (and previous successful) deployment per project/environment/tenant.
import type { SimContext } from '../context.js';
import { boolParam, listParam, queryValue } from '../paging.js';
import { ok, route, type Route } from '../router.js';
import {
  activeTaskStates,
  idNumber,
  phaseEnvironments,
  type DeploymentRecord,
  type ReleaseRecord,
  type TaskRecord,
} from '../store.js';
import { isoOrNull, isoTime, proseDuration } from '../time.js';
import { spaceOf } from './common.js';
import { projectGroupId } from './projects.js';

/** Tasks and releases by id, built once per dashboard: a `find` per item was quadratic. */
interface DashboardIndex {
  tasks: ReadonlyMap<string, TaskRecord>;
  releases: ReadonlyMap<string, ReleaseRecord>;
}

export function renderDashboardItem(
  deployment: DeploymentRecord,
  sim: SimContext,
  isCurrent: boolean,
  isPrevious: boolean,
  index?: DashboardIndex,
) {
  const state = sim.state();
  const spaceId = state.space.id;
  const task = index
    ? index.tasks.get(deployment.taskId)
    : state.tasks.find((t) => t.id === deployment.taskId);
  const release = index
    ? index.releases.get(deployment.releaseId)
    : state.releases.find((r) => r.id === deployment.releaseId);
  const taskState = task?.state ?? 'Queued';
  const started = task?.startTime;
  const paused = task?.pausedOn
    ? state.interruptions.find((i) => i.id === task.pausedOn && i.isPending)
    : undefined;
  return {
    Id: deployment.id,
    DeploymentId: deployment.id,
    ProjectId: deployment.projectId,
    EnvironmentId: deployment.environmentId,
    TenantId: deployment.tenantId,
    ReleaseId: deployment.releaseId,
    ReleaseVersion: release?.version ?? '',
    ChannelId: deployment.channelId,
    TaskId: deployment.taskId,
    State: taskState,
    Created: isoTime(deployment.created),
    QueueTime: isoTime(deployment.queueTime ?? deployment.created),
    StartTime: isoOrNull(started),
    CompletedTime: isoOrNull(task?.completedTime),
    Duration:
      started !== undefined
        ? proseDuration((task?.completedTime ?? sim.clock.now()) - started)
        : '',
    ErrorMessage: task?.errorMessage ?? '',
    HasWarningsOrErrors: taskState === 'Failed',
    HasPendingInterruptions: paused !== undefined,
    PendingInterruptionTypes: paused ? [paused.type] : [],
    HasPendingPreconditions: false,
    PendingPreconditionTypes: [],
    IsCurrent: isCurrent,
    IsPrevious: isPrevious,
    IsCompleted: !activeTaskStates.includes(taskState),
    Links: {
      Self: `/api/${spaceId}/deployments/${deployment.id}`,
      Release: `/api/${spaceId}/releases/${deployment.releaseId}`,
      Task: `/api/tasks/${deployment.taskId}`,
    },
  };
}

function dashboard(
  sim: SimContext,
  filter: {
    projects?: string[];
    environments?: string[];
    includePrevious: boolean;
    filtered: boolean;
  },
) {
  const state = sim.state();
  const projects = state.projects.filter((p) => !filter.projects || filter.projects.includes(p.id));
  const environments = state.environments.filter(
    (e) => !filter.environments || filter.environments.includes(e.id),
  );
  const projectIds = new Set(projects.map((p) => p.id));
  const environmentIds = new Set(environments.map((e) => e.id));
  const index: DashboardIndex = {
    tasks: new Map(state.tasks.map((t) => [t.id, t])),
    releases: new Map(state.releases.map((r) => [r.id, r])),
  };
  const byCell = new Map<string, DeploymentRecord[]>();
  for (const d of state.deployments) {
    if (!projectIds.has(d.projectId) || !environmentIds.has(d.environmentId)) continue;
    const key = `${d.projectId}|${d.environmentId}|${d.tenantId ?? ''}`;
    const cell = byCell.get(key);
    if (cell) cell.push(d);
    else byCell.set(key, [d]);
  }
  const items: unknown[] = [];
  for (const cell of byCell.values()) {
    // Current = latest by Created in any state; previous = the last successful one created before it.
    const ordered = [...cell].sort(
      (a, b) => b.created - a.created || idNumber(b.id) - idNumber(a.id),
    );
    const [current, ...older] = ordered;
    if (!current) continue;
    items.push(renderDashboardItem(current, sim, true, false, index));
    if (filter.includePrevious) {
      const previous = older.find((d) => index.tasks.get(d.taskId)?.state === 'Success');
      if (previous) items.push(renderDashboardItem(previous, sim, false, true, index));
    }
  }
  const lifecycleEnvironments = (lifecycleId: string): string[] => {
    const lifecycle = state.lifecycles.find((l) => l.id === lifecycleId);
    const ids = lifecycle
      ? phaseEnvironments(state, lifecycle).flat()
      : state.environments.map((e) => e.id);
    return state.environments.filter((e) => ids.includes(e.id)).map((e) => e.id);
  };
  const allProjectEnvironments = [
    ...new Set(projects.flatMap((p) => lifecycleEnvironments(p.lifecycleId))),
  ];
  return {
    Id: `dashboard-${state.space.id}`,
    Projects: projects.map((p) => ({
      Id: p.id,
      Name: p.name,
      Slug: p.slug,
      ProjectGroupId: projectGroupId,
      EnvironmentIds: lifecycleEnvironments(p.lifecycleId),
      TenantedDeploymentMode: p.tenantedDeploymentMode,
      CanPerformUntenantedDeployment: p.tenantedDeploymentMode !== 'Tenanted',
      IsDisabled: p.isDisabled,
    })),
    ProjectGroups: [
      { Id: projectGroupId, Name: 'Default Project Group', EnvironmentIds: allProjectEnvironments },
    ],
    Environments: environments.map((e) => ({ Id: e.id, Name: e.name })),
    Tenants: state.tenants.map((t) => ({
      Id: t.id,
      Name: t.name,
      TenantTags: t.tags,
      ProjectEnvironments: t.projectEnvironments,
      IsDisabled: false,
    })),
    Items: items,
    ProjectLimit: null,
    IsFiltered: filter.filtered,
    Links: { Self: `/api/${state.space.id}/dashboard` },
  };
}

export const dashboardRoutes: Route[] = [
  route('GET', '/api/{spaceId}/dashboard', (req, sim) => {
    spaceOf(req, sim);
    const projectId = queryValue(req, 'projectId');
    return ok(
      dashboard(sim, {
        projects: projectId ? [projectId] : undefined,
        includePrevious: false,
        filtered: projectId !== undefined,
      }),
    );
  }),
  route('GET', '/api/{spaceId}/dashboard/dynamic', (req, sim) => {
    spaceOf(req, sim);
    const projects = listParam(req, 'projects');
    const environments = listParam(req, 'environments');
    return ok(
      dashboard(sim, {
        projects,
        environments,
        includePrevious: boolParam(req, 'includePrevious') === true,
        filtered:
          queryValue(req, 'projects') !== undefined ||
          queryValue(req, 'environments') !== undefined,
      }),
    );
  }),
];
