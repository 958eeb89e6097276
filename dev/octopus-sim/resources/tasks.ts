// Server tasks: get, list with filters, details (the activity tree) and cancel.
import type { SimContext } from '../context.js';
import { workerName } from '../engine.js';
import { boolParam, dateTimeParam, intParam, listParam, paged, queryValue } from '../paging.js';
import { notFound, ok, route, SimHttpError, type Route, type SimRequest } from '../router.js';
import {
  activeTaskStates,
  idNumber,
  pendingInterruptionsOf,
  type ActivityStatus,
  type TaskRecord,
} from '../store.js';
import { isoOrNull, isoTime, proseDuration } from '../time.js';
import { findById, spaceOf } from './common.js';

const allStates = [
  'Queued',
  'Executing',
  'Cancelling',
  'Success',
  'Failed',
  'Canceled',
  'TimedOut',
];

export function renderTask(task: TaskRecord, sim: SimContext): Record<string, unknown> {
  const spaceId = sim.state().space.id;
  const now = sim.clock.now();
  const isCompleted = !activeTaskStates.includes(task.state);
  const runningFor =
    task.startTime !== undefined ? (task.completedTime ?? now) - task.startTime : undefined;
  const queuedBehind = task.state === 'Queued' && task.startTime === undefined;
  const pending = pendingInterruptionsOf(sim.state(), task.id);
  return {
    Id: task.id,
    Name: task.name,
    Description: task.description,
    Arguments: task.deploymentId
      ? { DeploymentId: task.deploymentId }
      : { RunbookRunId: task.runbookRunId ?? null },
    State: task.state,
    Completed: task.completedTime !== undefined ? new Date(task.completedTime).toUTCString() : '',
    QueueTime: isoTime(task.queueTime ?? task.queued),
    QueueTimeExpiry: isoOrNull(task.queueTimeExpiry),
    StartTime: isoOrNull(task.startTime),
    LastUpdatedTime: isoTime(task.lastUpdated),
    CompletedTime: isoOrNull(task.completedTime),
    ServerNode: task.startTime !== undefined ? 'octopus-sim-node' : null,
    Duration: runningFor !== undefined ? proseDuration(runningFor) : '',
    ErrorMessage: task.errorMessage,
    HasBeenPickedUpByProcessor: task.startTime !== undefined,
    IsCompleted: isCompleted,
    FinishedSuccessfully: task.state === 'Success',
    HasPendingInterruptions: pending.length > 0,
    PendingInterruptionTypes: [...new Set(pending.map((i) => i.type))],
    HasPendingPreconditions: false,
    PendingPreconditionTypes: [],
    CanRerun: isCompleted,
    HasWarningsOrErrors: task.state === 'Failed' || task.steps.some((s) => s.status === 'Failed'),
    EstimatedRemainingQueueDurationSeconds: queuedBehind ? 0 : null,
    UnmetPreconditions: null,
    ProjectId: task.projectId,
    SpaceId: spaceId,
    Links: {
      Self: `/api/tasks/${task.id}`,
      Web: `/app#/${spaceId}/tasks/${task.id}`,
      Raw: `/api/tasks/${task.id}/raw`,
      Rerun: `/api/tasks/rerun/${task.id}`,
      Cancel: `/api/tasks/${task.id}/cancel`,
      State: `/api/tasks/${task.id}/state`,
      QueuedBehind: `/api/tasks/${task.id}/queued-behind{?skip,take}`,
      Details: `/api/tasks/${task.id}/details{?verbose,tail,ranges}`,
      StatusMessages: `/api/tasks/${task.id}/status/messages`,
      Artifacts: `/api/${spaceId}/artifacts?regarding=${task.id}`,
      Interruptions: `/api/${spaceId}/interruptions?regarding=${task.id}`,
    },
  };
}

function rootStatus(task: TaskRecord): ActivityStatus {
  switch (task.state) {
    case 'Queued':
      return task.startTime === undefined ? 'Pending' : 'Running';
    case 'Executing':
    case 'Cancelling':
      return 'Running';
    case 'Success':
      return 'Success';
    case 'Failed':
      return 'Failed';
    default:
      return 'Canceled';
  }
}

function renderDetails(
  task: TaskRecord,
  sim: SimContext,
  tail: number | undefined,
): Record<string, unknown> {
  const logs = <T>(lines: T[]): T[] =>
    tail === undefined ? lines : lines.slice(Math.max(0, lines.length - tail));
  const finished = task.steps.filter(
    (s) => s.status !== 'Pending' && s.status !== 'Running',
  ).length;
  const percent = task.steps.length === 0 ? 100 : Math.round((finished / task.steps.length) * 100);
  const remainingSteps = task.steps.length - finished;
  const remainingMs = remainingSteps * sim.engine.stepDuration(task.projectId);
  return {
    Task: renderTask(task, sim),
    Progress: {
      ProgressPercentage: task.state === 'Success' ? 100 : percent,
      EstimatedTimeRemaining: activeTaskStates.includes(task.state)
        ? `about ${proseDuration(remainingMs)}`
        : '',
    },
    PhysicalLogSize: task.steps.reduce((size, s) => size + s.logs.length * 120, 0),
    ActivityLogs: [
      {
        Id: task.id,
        Name: task.description,
        Status: rootStatus(task),
        Started: isoOrNull(task.startTime),
        Ended: isoOrNull(task.completedTime),
        ShowAtSummaryLevel: true,
        ProgressPercentage: percent,
        ProgressMessage: null,
        LogElements: [],
        Children: task.steps.map((step, index) => ({
          Id: `${task.id}_s${index + 1}`,
          Name: step.name,
          Status: step.status,
          Started: isoOrNull(step.started),
          Ended: isoOrNull(step.ended),
          ShowAtSummaryLevel: true,
          ProgressPercentage: step.status === 'Running' ? 50 : step.status === 'Pending' ? 0 : 100,
          ProgressMessage: null,
          LogElements: [],
          Children:
            step.started === undefined
              ? []
              : [
                  {
                    Id: `${task.id}_s${index + 1}_m1`,
                    Name: workerName,
                    Status: step.status,
                    Started: isoOrNull(step.started),
                    Ended: isoOrNull(step.ended),
                    ShowAtSummaryLevel: false,
                    ProgressPercentage: 0,
                    ProgressMessage: null,
                    Children: [],
                    LogElements: logs(step.logs).map((line) => ({
                      Category: line.category,
                      OccurredAt: isoTime(line.occurredAt),
                      MessageText: line.messageText,
                      Detail: null,
                    })),
                  },
                ],
        })),
      },
    ],
  };
}

function within(
  value: number | undefined,
  from: number | undefined,
  to: number | undefined,
): boolean {
  if (from === undefined && to === undefined) return true;
  if (value === undefined) return false;
  return (from === undefined || value >= from) && (to === undefined || value <= to);
}

function filterTasks(request: SimRequest, sim: SimContext): TaskRecord[] {
  const ids = listParam(request, 'ids');
  const states = listParam(request, 'states')?.map((s) => s.toLowerCase());
  const names = listParam(request, 'name');
  const project = queryValue(request, 'project');
  const environment = queryValue(request, 'environment');
  const tenant = queryValue(request, 'tenant');
  const runbook = queryValue(request, 'runbook');
  const active = boolParam(request, 'active');
  const running = boolParam(request, 'running');
  const interrupted = boolParam(request, 'hasPendingInterruptions');
  const description = queryValue(request, 'description')?.toLowerCase();
  const partialName = queryValue(request, 'partialName')?.toLowerCase();
  const range = (name: string): [number | undefined, number | undefined] => [
    dateTimeParam(request, `from${name}`),
    dateTimeParam(request, `to${name}`),
  ];
  const [fromQueue, toQueue] = range('QueueDate');
  const [fromStart, toStart] = range('StartDate');
  const [fromCompleted, toCompleted] = range('CompletedDate');
  const state = sim.state();
  return [...state.tasks]
    .filter((t) => {
      const runbookId = t.runbookRunId
        ? state.runbookRuns.find((r) => r.id === t.runbookRunId)?.runbookId
        : undefined;
      return (
        (!ids || ids.includes(t.id)) &&
        (!states || states.includes(t.state.toLowerCase())) &&
        (!names || names.includes(t.name)) &&
        (!project || t.projectId === project) &&
        (!environment || t.environmentId === environment) &&
        (!tenant || t.tenantId === tenant) &&
        (!runbook || runbookId === runbook) &&
        (active !== true || activeTaskStates.includes(t.state)) &&
        (running !== true || t.state === 'Executing' || t.state === 'Cancelling') &&
        (interrupted === undefined ||
          interrupted === pendingInterruptionsOf(state, t.id).length > 0) &&
        (!description || t.description.toLowerCase().includes(description)) &&
        (!partialName || t.description.toLowerCase().includes(partialName)) &&
        within(t.queued, fromQueue, toQueue) &&
        within(t.startTime, fromStart, toStart) &&
        within(t.completedTime, fromCompleted, toCompleted)
      );
    })
    .sort((a, b) => b.queued - a.queued || idNumber(b.id) - idNumber(a.id));
}

function listTasks(
  request: SimRequest,
  sim: SimContext,
  basePath: string,
): Record<string, unknown> {
  const tasks = filterTasks(request, sim);
  const totalCounts: Record<string, number> = {};
  for (const s of allStates) totalCounts[s] = tasks.filter((t) => t.state === s).length;
  totalCounts.Interrupted = tasks.filter(
    (t) => pendingInterruptionsOf(sim.state(), t.id).length > 0,
  ).length;
  const page = paged(
    tasks,
    request,
    {
      itemType: 'Task',
      basePath,
      queryNames: [
        'ids',
        'name',
        'states',
        'project',
        'environment',
        'tenant',
        'runbook',
        'active',
        'running',
        'hasPendingInterruptions',
        'fromCompletedDate',
        'toCompletedDate',
        'fromStartDate',
        'toStartDate',
        'fromQueueDate',
        'toQueueDate',
      ],
    },
    (t) => renderTask(t, sim),
  );
  return { ...page, TotalCounts: totalCounts };
}

function taskById(sim: SimContext, id: string): TaskRecord {
  return findById(sim.state().tasks, id, 'task');
}

const details = (req: SimRequest, sim: SimContext) =>
  ok(renderDetails(taskById(sim, req.params.id ?? ''), sim, intParam(req, 'tail')));

const cancel = (req: SimRequest, sim: SimContext) => {
  sim.engine.catchUp();
  const before = taskById(sim, req.params.id ?? '');
  // Octopus may refuse to cancel a task that has already finished (400): the unkind answer.
  if (!['Queued', 'Executing', 'Cancelling'].includes(before.state))
    throw new SimHttpError(
      400,
      `Task ${before.id} has already finished (${before.state}) and cannot be canceled.`,
    );
  const task = sim.engine.cancelTask(before.id, sim.apiUser);
  if (!task) throw notFound('task', req.params.id ?? '');
  return ok(renderTask(task, sim));
};

export const taskRoutes: Route[] = [
  route('GET', '/api/tasks', (req, sim) => ok(listTasks(req, sim, '/api/tasks'))),
  route('GET', '/api/tasks/{id}', (req, sim) =>
    ok(renderTask(taskById(sim, req.params.id ?? ''), sim)),
  ),
  route('GET', '/api/tasks/{id}/details', details),
  route('POST', '/api/tasks/{id}/cancel', cancel),
  route('GET', '/api/{spaceId}/tasks', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    return ok(listTasks(req, sim, `/api/${spaceId}/tasks`));
  }),
  route('GET', '/api/{spaceId}/tasks/{id}', (req, sim) => {
    spaceOf(req, sim);
    return ok(renderTask(taskById(sim, req.params.id ?? ''), sim));
  }),
  route('GET', '/api/{spaceId}/tasks/{id}/details', (req, sim) => {
    spaceOf(req, sim);
    return details(req, sim);
  }),
  route('POST', '/api/{spaceId}/tasks/{id}/cancel', (req, sim) => {
    spaceOf(req, sim);
    return cancel(req, sim);
  }),
];
