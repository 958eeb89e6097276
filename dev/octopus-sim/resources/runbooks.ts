// Runbooks and runbook runs (a run queues a "RunbookRun" task).
import type { SimContext } from '../context.js';
import { listParam, paged, queryValue, stringField } from '../paging.js';
import { ok, route, SimHttpError, type Route, type SimRequest } from '../router.js';
import type { RunbookRecord, RunbookRunRecord } from '../store.js';
import { isoOrNull, isoTime, parseTime } from '../time.js';
import { filterByIdsAndName, findById, spaceOf } from './common.js';
import { newestFirst } from './deployments.js';
import { projectFromRoute } from './projects.js';

function renderRunbook(runbook: RunbookRecord, spaceId: string): Record<string, unknown> {
  return {
    Id: runbook.id,
    Name: runbook.name,
    Description: runbook.description,
    ProjectId: runbook.projectId,
    RunbookProcessId: runbook.processId,
    PublishedRunbookSnapshotId: runbook.snapshotId,
    EnvironmentScope: 'All',
    Environments: [],
    MultiTenancyMode: 'Untenanted',
    DefaultGuidedFailureMode: 'EnvironmentDefault',
    SpaceId: spaceId,
    Links: {
      Self: `/api/${spaceId}/runbooks/${runbook.id}`,
      Project: `/api/${spaceId}/projects/${runbook.projectId}`,
    },
  };
}

function renderRun(run: RunbookRunRecord, sim: SimContext): Record<string, unknown> {
  const state = sim.state();
  const spaceId = state.space.id;
  const runbook = state.runbooks.find((r) => r.id === run.runbookId);
  return {
    Id: run.id,
    Name: run.name,
    RunbookId: run.runbookId,
    RunbookName: runbook?.name ?? '',
    RunbookSnapshotId: runbook?.snapshotId ?? null,
    FrozenRunbookProcessId: runbook ? `${runbook.processId}-s-${runbook.snapshotId}` : null,
    ProjectId: run.projectId,
    EnvironmentId: run.environmentId,
    TenantId: run.tenantId,
    TaskId: run.taskId,
    Created: isoTime(run.created),
    QueueTime: isoOrNull(run.queueTime),
    QueueTimeExpiry: null,
    Comments: run.comments,
    DeployedBy: run.deployedBy,
    SkipActions: [],
    SpecificMachineIds: [],
    ExcludedMachineIds: [],
    UseGuidedFailure: false,
    FormValues: {},
    SpaceId: spaceId,
    Links: { Self: `/api/${spaceId}/runbookRuns/${run.id}`, Task: `/api/tasks/${run.taskId}` },
  };
}

function createRun(req: SimRequest, sim: SimContext) {
  spaceOf(req, sim);
  const queueRaw = stringField(req.body, 'QueueTime');
  const queueTime = queueRaw ? parseTime(queueRaw) : undefined;
  if (queueRaw && queueTime === undefined)
    throw new SimHttpError(400, 'There was a problem with your request.', [
      'QueueTime must be an ISO 8601 date-time.',
    ]);
  const run = sim.engine.createRunbookRun(
    {
      runbookId: stringField(req.body, 'RunbookId') ?? '',
      environmentId: stringField(req.body, 'EnvironmentId') ?? '',
      tenantId: stringField(req.body, 'TenantId') ?? null,
      comments: stringField(req.body, 'Comments') ?? null,
      queueTime,
    },
    sim.apiUser,
  );
  return ok(renderRun(run, sim), 201);
}

export const runbookRoutes: Route[] = [
  route('GET', '/api/{spaceId}/runbooks', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const projectIds = listParam(req, 'projectIds');
    const items = filterByIdsAndName(sim.state().runbooks, req).filter(
      (r) => !projectIds || projectIds.includes(r.projectId),
    );
    return ok(
      paged(
        items,
        req,
        {
          itemType: 'Runbook',
          basePath: `/api/${spaceId}/runbooks`,
          queryNames: ['ids', 'partialName', 'projectIds'],
        },
        (r) => renderRunbook(r, spaceId),
      ),
    );
  }),
  route('GET', '/api/{spaceId}/projects/{projectId}/runbooks', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const project = projectFromRoute(sim, req.params.projectId ?? '');
    const items = filterByIdsAndName(
      sim.state().runbooks.filter((r) => r.projectId === project.id),
      req,
    );
    return ok(
      paged(
        items,
        req,
        {
          itemType: 'Runbook',
          basePath: `/api/${spaceId}/projects/${project.id}/runbooks`,
          queryNames: ['partialName'],
        },
        (r) => renderRunbook(r, spaceId),
      ),
    );
  }),
  route('GET', '/api/{spaceId}/runbooks/{id}', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const runbook = findById(sim.state().runbooks, req.params.id, 'runbook');
    return ok(renderRunbook(runbook, spaceId));
  }),
  route('GET', '/api/{spaceId}/runbookRuns', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const ids = listParam(req, 'ids');
    const projects = listParam(req, 'projects');
    const environments = listParam(req, 'environments');
    const runbooks = listParam(req, 'runbooks');
    const taskState = queryValue(req, 'taskState')?.toLowerCase();
    const tasks = sim.state().tasks;
    const items = newestFirst(
      sim
        .state()
        .runbookRuns.filter(
          (r) =>
            (!ids || ids.includes(r.id)) &&
            (!projects || projects.includes(r.projectId)) &&
            (!environments || environments.includes(r.environmentId)) &&
            (!runbooks || runbooks.includes(r.runbookId)) &&
            (!taskState || tasks.find((t) => t.id === r.taskId)?.state.toLowerCase() === taskState),
        ),
    );
    return ok(
      paged(
        items,
        req,
        {
          itemType: 'RunbookRun',
          basePath: `/api/${spaceId}/runbookRuns`,
          queryNames: ['ids', 'projects', 'environments', 'runbooks', 'taskState'],
        },
        (r) => renderRun(r, sim),
      ),
    );
  }),
  route('GET', '/api/{spaceId}/runbookRuns/{id}', (req, sim) => {
    spaceOf(req, sim);
    const run = findById(sim.state().runbookRuns, req.params.id, 'runbook run');
    return ok(renderRun(run, sim));
  }),
  route('POST', '/api/{spaceId}/runbookRuns', createRun),
  route('POST', '/api/{spaceId}/projects/{projectId}/runbookRuns', createRun),
];
