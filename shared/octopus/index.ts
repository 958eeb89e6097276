// The Octopus Deploy REST client: one client, typed resources, paging as async iterators, one error type.
export {
  createOctopusClient,
  OctopusClient,
  type OctopusClientOptions,
  type OctopusRoot,
} from './client.js';
export { isSupportedVersion, oldestSupportedVersion, versionProblem } from './serverVersion.js';
export { OctopusCallCounter } from './callCounter.js';
export { OctopusError, isOctopusError, type OctopusErrorCode } from './errors.js';
export type { LogLevel, OctopusLog } from './http.js';
export {
  expandLink,
  stripLink,
  linkToUrl,
  octopusUrl,
  serverBase,
  taskPageUrl,
  type LinkValue,
} from './links.js';
export {
  collect,
  type OctopusPage,
  type PagedAsyncIterable,
  type PageOptions,
  type ResourceCollection,
} from './paging.js';
export { pageShape } from './context.js';
export { selectJson, type JsonShape } from './selectJson.js';
export { backoffDelay, isRetryableStatus, parseRetryAfter, retryDelay } from './retry.js';
export { redactSecrets } from '../redact.js';
export {
  TASK_STATES,
  ACTIVITY_STATUSES,
  isFinishedTaskState,
  taskStateFromWire,
  activityStatusFromWire,
  type TaskState,
  type ActivityStatus,
  type TenantedDeploymentMode,
} from './enums.js';
export type { Space } from './spaces.js';
export type { Project } from './projects.js';
export type { Environment } from './environments.js';
export type { Tenant } from './tenants.js';
export type { Lifecycle, LifecyclePhase, RetentionPolicy } from './lifecycles.js';
export type { Channel } from './channels.js';
export type {
  Release,
  ReleaseDeploymentTemplate,
  NamedReference,
  SelectedPackage,
} from './releases.js';
export type { Progression, ProgressionRelease } from './progression.js';
export type {
  Deployment,
  CreateDeploymentRequest,
  DeploymentListOptions,
  FindByMarkerOptions,
} from './deployments.js';
export type { ServerTask, TaskDetails, TaskListOptions } from './tasks.js';
export {
  stepProgress,
  isStepFinished,
  type StepProgress,
  type StepState,
  type ActivityElement,
  type ActivityLogElement,
} from './taskProgress.js';
export {
  dashboardCell,
  normalizeDashboard,
  type Dashboard,
  type DashboardItem,
  type DashboardCell,
  type DashboardOptions,
  type DynamicDashboardOptions,
} from './dashboard.js';
export type { OctopusEvent, EventListOptions, EventCategory } from './events.js';
export type { Interruption, InterruptionAnswer, InterruptionListOptions } from './interruptions.js';
export type {
  Runbook,
  RunbookRun,
  CreateRunbookRunRequest,
  RunbookRunListOptions,
} from './runbooks.js';
export {
  matchNamed,
  type NamedKind,
  type NamedResource,
  type OctopusNameResolver,
} from './resolver.js';
