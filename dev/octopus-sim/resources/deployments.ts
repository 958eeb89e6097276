// Deployments: list with id filters (newest first), get, and create (which queues a task).
import type { SimContext } from '../context.js';
import { defaultDeploymentOptions, SimValidationError, type DeploymentRequest } from '../engine.js';
import {
  booleanField,
  field,
  listParam,
  paged,
  queryValue,
  stringArrayField,
  stringField,
} from '../paging.js';
import { ok, route, SimHttpError, type Route, type SimRequest } from '../router.js';
import { idNumber, type DeploymentRecord, type TaskRecord } from '../store.js';
import { isoOrNull, isoTime, parseTime } from '../time.js';
import { findById, spaceOf } from './common.js';

export function newestFirst<T extends { id: string; created: number }>(items: T[]): T[] {
  return [...items].sort((a, b) => b.created - a.created || idNumber(b.id) - idNumber(a.id));
}

/** Tasks by id, built once per request: a list renders many deployments (a `find` each was quadratic). */
export function tasksById(sim: SimContext): Map<string, TaskRecord> {
  return new Map(sim.state().tasks.map((t) => [t.id, t]));
}

export function renderDeployment(
  deployment: DeploymentRecord,
  sim: SimContext,
  tasks?: ReadonlyMap<string, TaskRecord>,
): Record<string, unknown> {
  const spaceId = sim.state().space.id;
  const o = deployment.options;
  const task = tasks
    ? tasks.get(deployment.taskId)
    : sim.state().tasks.find((t) => t.id === deployment.taskId);
  return {
    Id: deployment.id,
    Name: deployment.name,
    ProjectId: deployment.projectId,
    ReleaseId: deployment.releaseId,
    ChannelId: deployment.channelId,
    EnvironmentId: deployment.environmentId,
    TenantId: deployment.tenantId,
    TaskId: deployment.taskId,
    Created: isoTime(deployment.created),
    QueueTime: isoOrNull(deployment.queueTime),
    QueueTimeExpiry: isoOrNull(deployment.queueTimeExpiry),
    Comments: deployment.comments,
    DeployedBy: deployment.deployedBy,
    DeployedById: deployment.deployedById,
    DeployedToMachineIds: [],
    SkipActions: o.skipActions,
    SpecificMachineIds: o.specificMachineIds,
    ExcludedMachineIds: o.excludedMachineIds,
    SpecificTargetTagIds: [],
    ExcludedTargetTagIds: [],
    ForcePackageDownload: o.forcePackageDownload,
    ForcePackageRedeployment: o.forcePackageRedeployment,
    UseGuidedFailure: o.useGuidedFailure,
    FormValues: o.formValues,
    FailureEncountered: task?.state === 'Failed',
    Priority: o.priority,
    DebugMode: o.debugMode,
    FailTargetDiscovery: false,
    DeploymentProcessId: `deploymentprocess-${deployment.projectId}-s-${deployment.releaseId}`,
    ManifestVariableSetId: `variableset-${deployment.id}`,
    Changes: [],
    ChangesMarkdown: '',
    TentacleRetentionPeriod: null,
    SpaceId: spaceId,
    Links: {
      Self: `/api/${spaceId}/deployments/${deployment.id}`,
      Release: `/api/${spaceId}/releases/${deployment.releaseId}`,
      Environment: `/api/${spaceId}/environments/${deployment.environmentId}`,
      Project: `/api/${spaceId}/projects/${deployment.projectId}`,
      Task: `/api/tasks/${deployment.taskId}`,
      Web: `/app#/${spaceId}/deployments/${deployment.id}`,
      Artifacts: `/api/${spaceId}/artifacts?regarding=${deployment.id}`,
      Interruptions: `/api/${spaceId}/interruptions?regarding=${deployment.taskId}`,
      DeploymentProcess: `/api/${spaceId}/deploymentprocesses/deploymentprocess-${deployment.projectId}`,
    },
  };
}

function filterDeployments(
  request: SimRequest,
  sim: SimContext,
  tasks: ReadonlyMap<string, TaskRecord>,
): DeploymentRecord[] {
  const idList = listParam(request, 'ids');
  const ids = idList ? new Set(idList) : undefined;
  const projects = listParam(request, 'projects');
  const environments = listParam(request, 'environments');
  const tenants = listParam(request, 'tenants');
  const channels = listParam(request, 'channels');
  const states = listParam(request, 'taskState');
  const partial = queryValue(request, 'partialName')?.toLowerCase();
  return newestFirst(
    sim
      .state()
      .deployments.filter(
        (d) =>
          (!ids || ids.has(d.id)) &&
          (!projects || projects.includes(d.projectId)) &&
          (!environments || environments.includes(d.environmentId)) &&
          (!tenants || (d.tenantId !== null && tenants.includes(d.tenantId))) &&
          (!channels || channels.includes(d.channelId)) &&
          (!states ||
            states.some((s) => s.toLowerCase() === tasks.get(d.taskId)?.state.toLowerCase())) &&
          (!partial || d.name.toLowerCase().includes(partial)),
      ),
  );
}

function parseDeploymentBody(body: unknown): DeploymentRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new SimHttpError(
      400,
      'The request body must be a JSON object describing the deployment.',
      ['Send at least ReleaseId and EnvironmentId.'],
    );
  const timeField = (name: string): number | undefined => {
    const raw = field(body, name);
    if (raw === undefined || raw === null || raw === '') return undefined;
    const ms = parseTime(raw);
    if (ms === undefined)
      throw new SimHttpError(400, 'There was a problem with your request.', [
        `${name} must be an ISO 8601 date-time.`,
      ]);
    return ms;
  };
  const formValues = field(body, 'FormValues');
  const defaults = defaultDeploymentOptions();
  return {
    releaseId: stringField(body, 'ReleaseId') ?? '',
    environmentId: stringField(body, 'EnvironmentId') ?? '',
    tenantId: stringField(body, 'TenantId') ?? null,
    projectId: stringField(body, 'ProjectId'),
    channelId: stringField(body, 'ChannelId'),
    comments: stringField(body, 'Comments') ?? null,
    queueTime: timeField('QueueTime'),
    queueTimeExpiry: timeField('QueueTimeExpiry'),
    options: {
      skipActions: stringArrayField(body, 'SkipActions'),
      specificMachineIds: stringArrayField(body, 'SpecificMachineIds'),
      excludedMachineIds: stringArrayField(body, 'ExcludedMachineIds'),
      forcePackageDownload: booleanField(body, 'ForcePackageDownload'),
      forcePackageRedeployment: booleanField(body, 'ForcePackageRedeployment'),
      useGuidedFailure: booleanField(body, 'UseGuidedFailure'),
      priority: stringField(body, 'Priority') ?? defaults.priority,
      debugMode: debugModeField(body),
      formValues:
        formValues !== null && typeof formValues === 'object' && !Array.isArray(formValues)
          ? (formValues as Record<string, unknown>)
          : {},
    },
  };
}

export const deploymentRoutes: Route[] = [
  route('GET', '/api/{spaceId}/deployments', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const tasks = tasksById(sim);
    return ok(
      paged(
        filterDeployments(req, sim, tasks),
        req,
        {
          itemType: 'Deployment',
          basePath: `/api/${spaceId}/deployments`,
          queryNames: [
            'ids',
            'projects',
            'environments',
            'tenants',
            'channels',
            'taskState',
            'partialName',
          ],
        },
        (d) => renderDeployment(d, sim, tasks),
      ),
    );
  }),
  route('GET', '/api/{spaceId}/deployments/{id}', (req, sim) => {
    spaceOf(req, sim);
    const deployment = findById(sim.state().deployments, req.params.id, 'deployment');
    return ok(renderDeployment(deployment, sim));
  }),
  route('POST', '/api/{spaceId}/deployments', (req, sim) => {
    spaceOf(req, sim);
    const deployment = sim.engine.createDeployment(parseDeploymentBody(req.body), sim.apiUser);
    return ok(renderDeployment(deployment, sim), 201);
  }),
  route('POST', '/api/{spaceId}/deployments/v1', (req, sim) => {
    spaceOf(req, sim);
    const deployment = sim.engine.createDeployment(parseDeploymentBody(req.body), sim.apiUser);
    return ok({ Deployment: renderDeployment(deployment, sim) }, 201);
  }),
];

/** DebugMode is a string enum in Octopus (None | Log | Debug); a boolean is refused, not guessed. */
function debugModeField(body: object): 'None' | 'Log' | 'Debug' {
  const key = Object.keys(body).find((k) => k.toLowerCase() === 'debugmode');
  const value = key === undefined ? undefined : (body as Record<string, unknown>)[key];
  if (value === undefined || value === null) return 'None';
  const found = ['None', 'Log', 'Debug'].find(
    (v) => typeof value === 'string' && v.toLowerCase() === value.toLowerCase(),
  );
  if (!found)
    throw new SimValidationError([
      `DebugMode must be one of None, Log, Debug (got ${JSON.stringify(value)}).`,
    ]);
  return found as 'None' | 'Log' | 'Debug';
}
