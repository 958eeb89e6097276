// The simulator's in-memory state: typed records (camelCase), id allocation and name lookups.
import type { TenantedDeploymentMode } from './scenario.js';

export type TaskState =
  'Queued' | 'Executing' | 'Cancelling' | 'Success' | 'Failed' | 'Canceled' | 'TimedOut';

export const activeTaskStates: readonly TaskState[] = ['Queued', 'Executing', 'Cancelling'];

export type ActivityStatus = 'Pending' | 'Running' | 'Success' | 'Failed' | 'Skipped' | 'Canceled';

export interface SpaceRecord {
  id: string;
  name: string;
  slug: string;
  description: string;
}

export interface EnvironmentRecord {
  id: string;
  name: string;
  slug: string;
  description: string;
  sortOrder: number;
  useGuidedFailure: boolean;
}

export interface PhaseRecord {
  id: string;
  name: string;
  automaticDeploymentTargets: string[];
  optionalDeploymentTargets: string[];
  minimumEnvironmentsBeforePromotion: number;
  isOptionalPhase: boolean;
}

export interface LifecycleRecord {
  id: string;
  name: string;
  slug: string;
  description: string;
  phases: PhaseRecord[];
}

export interface ProjectRecord {
  id: string;
  name: string;
  slug: string;
  description: string;
  lifecycleId: string;
  tenantedDeploymentMode: TenantedDeploymentMode;
  steps: string[];
  stepDurationMs: number | undefined;
  concurrencyTag: string | undefined;
  isDisabled: boolean;
  /**
   * Octopus 2025.2+ deployment settings "Cancel queued tasks" / "Cancel running tasks" (on for new
   * projects in Octopus; a scenario turns them on per project).
   */
  cancelQueuedTasks: boolean;
  cancelRunningTasks: boolean;
  deploymentProcessId: string;
  variableSetId: string;
}

export interface ChannelRecord {
  id: string;
  name: string;
  slug: string;
  projectId: string;
  lifecycleId: string | null;
  isDefault: boolean;
}

export interface TenantRecord {
  id: string;
  name: string;
  slug: string;
  description: string;
  tags: string[];
  /** Project id -> environment ids. */
  projectEnvironments: Record<string, string[]>;
}

export interface ReleaseRecord {
  id: string;
  version: string;
  projectId: string;
  channelId: string;
  assembled: number;
  releaseNotes: string;
}

export interface RunbookRecord {
  id: string;
  name: string;
  projectId: string;
  description: string;
  steps: string[];
  snapshotId: string;
  processId: string;
}

export interface DeploymentRecord {
  id: string;
  name: string;
  projectId: string;
  releaseId: string;
  channelId: string;
  environmentId: string;
  tenantId: string | null;
  taskId: string;
  created: number;
  queueTime: number | undefined;
  queueTimeExpiry: number | undefined;
  comments: string | null;
  deployedBy: string;
  deployedById: string | null;
  options: DeploymentOptions;
}

export interface DeploymentOptions {
  skipActions: string[];
  specificMachineIds: string[];
  excludedMachineIds: string[];
  forcePackageDownload: boolean;
  forcePackageRedeployment: boolean;
  useGuidedFailure: boolean;
  priority: string;
  debugMode: 'None' | 'Log' | 'Debug';
  formValues: Record<string, unknown>;
}

export interface RunbookRunRecord {
  id: string;
  name: string;
  runbookId: string;
  projectId: string;
  environmentId: string;
  tenantId: string | null;
  taskId: string;
  created: number;
  queueTime: number | undefined;
  comments: string | null;
  deployedBy: string;
}

export interface LogRecord {
  category: string;
  occurredAt: number;
  messageText: string;
}

export interface StepRecord {
  name: string;
  status: ActivityStatus;
  started: number | undefined;
  ended: number | undefined;
  logs: LogRecord[];
}

export interface TaskRecord {
  id: string;
  name: 'Deploy' | 'RunbookRun';
  description: string;
  projectId: string;
  environmentId: string;
  tenantId: string | null;
  deploymentId: string | undefined;
  runbookRunId: string | undefined;
  state: TaskState;
  queued: number;
  queueTime: number | undefined;
  queueTimeExpiry: number | undefined;
  startTime: number | undefined;
  completedTime: number | undefined;
  lastUpdated: number;
  errorMessage: string;
  steps: StepRecord[];
  /** 1-based step that will fail, if scripted. */
  failAtStep: number | undefined;
  failMessage: string | undefined;
  concurrencyTag: string;
  /** Index of the running step while Executing. */
  currentStep: number;
  stepEndsAt: number | undefined;
  cancelAt: number | undefined;
  /** Where the task stands in the queue (its id number, or the place of a task it superseded). */
  queueOrder?: number;
  /** A scripted pause: the 1-based step that raises a manual intervention. */
  manualInterventionAtStep?: number;
  /** Guided failure is on for this task (deployment option, environment, or a script). */
  guidedFailure?: boolean;
  /** The pending interruption the task waits on, if any. */
  pausedOn?: string;
  /** Who asked for the cancel of a Cancelling task (its TaskCanceled event is theirs). */
  canceledBy?: { userId: string; username: string; userAgent: string };
}

export type InterruptionType = 'ManualIntervention' | 'GuidedFailure';

export interface InterruptionRecord {
  id: string;
  type: InterruptionType;
  title: string;
  /** The Paragraph shown as "Instructions". */
  instructions: string;
  taskId: string;
  relatedDocumentIds: string[];
  correlationId: string;
  created: number;
  isPending: boolean;
  responsibleUserId: string | null;
  /** Form values as submitted (Instructions, Notes, Result or Guidance). */
  values: Record<string, string | null>;
  /** 0-based step the task paused at. */
  stepIndex: number;
  lastModified: number;
  lastModifiedBy: string | null;
}

export interface EventRecord {
  id: string;
  autoId: number;
  category: string;
  message: string;
  messageHtml: string;
  messageReferences: { referencedDocumentId: string; startIndex: number; length: number }[];
  occurred: number;
  relatedDocumentIds: string[];
  userId: string;
  username: string;
  userAgent: string;
  ipAddress: string | null;
  comments: string | null;
}

export interface SubscriptionRecord {
  id: string;
  name: string;
  isDisabled: boolean;
  /** Filter arrays by Octopus name (EventCategories, Projects, ...). */
  filter: Record<string, string[]>;
  webhookUri: string;
  webhookTimeout: string;
  webhookHeaderKey: string | null;
  /** As sent: a string, or a property value object; never echoed when sensitive. */
  webhookHeaderValue: unknown;
  webhookTeams: string[];
  lastProcessedEventAutoId: number;
  lastModified: number;
}

/** An Octopus deployment freeze (instance-level in Octopus; the simulator has one space anyway). */
export interface DeploymentFreezeRecord {
  id: string;
  name: string;
  description: string | null;
  start: number;
  end: number;
  /** Project id -> environment ids. */
  projectEnvironmentScope: Record<string, string[]>;
  tenantProjectEnvironmentScope: { TenantId: string; ProjectId: string; EnvironmentId: string }[];
  /** As sent (Octopus's RecurringSchedule shape), or null. */
  recurringSchedule: Record<string, unknown> | null;
  ownerId: string | null;
}

export interface SimState {
  space: SpaceRecord;
  environments: EnvironmentRecord[];
  lifecycles: LifecycleRecord[];
  projects: ProjectRecord[];
  channels: ChannelRecord[];
  tenants: TenantRecord[];
  releases: ReleaseRecord[];
  runbooks: RunbookRecord[];
  deployments: DeploymentRecord[];
  runbookRuns: RunbookRunRecord[];
  tasks: TaskRecord[];
  events: EventRecord[];
  subscriptions: SubscriptionRecord[];
  deploymentFreezes: DeploymentFreezeRecord[];
  interruptions: InterruptionRecord[];
  counters: Map<string, number>;
  /**
   * Added to the ids of what keeps being created (releases, deployments, tasks, events, runs,
   * interruptions), so a restarted simulator never reuses an id a coordinator has already stored.
   */
  idOffset: number;
  defaultStepDurationMs: number;
  webhookBatchIntervalMs: number;
}

// Different kinds start far apart so that an id of the wrong kind never matches by accident.
const firstIds: Record<string, number> = {
  Spaces: 1,
  Environments: 1,
  Lifecycles: 1,
  Phases: 1,
  Projects: 1,
  Channels: 11,
  Tenants: 21,
  Releases: 101,
  Runbooks: 31,
  RunbookSnapshots: 41,
  RunbookProcess: 51,
  deploymentprocess: 61,
  variableset: 71,
  Deployments: 201,
  RunbookRuns: 301,
  ServerTasks: 1001,
  Events: 5001,
  Subscriptions: 1,
  Interruptions: 401,
  DeploymentFreezes: 1,
};

/** Kinds whose ids keep growing while the simulator runs: shifted by SimState.idOffset. */
const growingKinds = new Set([
  'Releases',
  'Deployments',
  'RunbookRuns',
  'ServerTasks',
  'Events',
  'Interruptions',
]);

/**
 * An id offset that grows with wall time (a hundred ids per second since late 2023): a simulator started
 * later begins above anything an earlier one could have handed out at that rate, as a real server's
 * ids never go back, so a coordinator's stored event ids (Azurite keeps them) are never answered as
 * duplicates after a restart.
 */
export function timeBasedIdOffset(now = Date.now()): number {
  return Math.max(0, Math.floor(now / 1000) - 1_700_000_000) * 100;
}

/** The first event number of a fresh state (history events are numbered from here). */
export function firstEventNumber(state: SimState): number {
  return (firstIds.Events ?? 1) + state.idOffset;
}

export function emptyState(idOffset = 0): SimState {
  return {
    space: { id: 'Spaces-1', name: 'Default', slug: 'default', description: '' },
    environments: [],
    lifecycles: [],
    projects: [],
    channels: [],
    tenants: [],
    releases: [],
    runbooks: [],
    deployments: [],
    runbookRuns: [],
    tasks: [],
    events: [],
    subscriptions: [],
    deploymentFreezes: [],
    interruptions: [],
    counters: new Map(),
    idOffset,
    defaultStepDurationMs: 4000,
    webhookBatchIntervalMs: 2000,
  };
}

export function nextId(state: SimState, kind: string): string {
  const next =
    state.counters.get(kind) ??
    (firstIds[kind] ?? 1) + (growingKinds.has(kind) ? state.idOffset : 0);
  state.counters.set(kind, next + 1);
  return `${kind}-${next}`;
}

export function slugify(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/** The number in an id ("Deployments-12" -> 12), for ordering by insertion. */
export function idNumber(id: string): number {
  const match = /-(\d+)$/.exec(id);
  return match ? Number(match[1]) : 0;
}

function byIdOrName<T extends { id: string; name: string }>(
  items: T[],
  key: string,
): T | undefined {
  const lower = key.toLowerCase();
  return (
    items.find((item) => item.id === key) ?? items.find((item) => item.name.toLowerCase() === lower)
  );
}

export const find = {
  project: (state: SimState, key: string) => byIdOrName(state.projects, key),
  environment: (state: SimState, key: string) => byIdOrName(state.environments, key),
  tenant: (state: SimState, key: string) => byIdOrName(state.tenants, key),
  lifecycle: (state: SimState, key: string) => byIdOrName(state.lifecycles, key),
  runbook: (state: SimState, key: string) => byIdOrName(state.runbooks, key),
  channel: (state: SimState, id: string) => state.channels.find((c) => c.id === id),
  release: (state: SimState, id: string) => state.releases.find((r) => r.id === id),
  deployment: (state: SimState, id: string) => state.deployments.find((d) => d.id === id),
  task: (state: SimState, id: string) => state.tasks.find((t) => t.id === id),
  subscription: (state: SimState, id: string) => state.subscriptions.find((s) => s.id === id),
};

/** The interruptions a task waits on now (pending ones). */
export function pendingInterruptionsOf(state: SimState, taskId: string): InterruptionRecord[] {
  return state.interruptions.filter((i) => i.taskId === taskId && i.isPending);
}

export function defaultChannel(state: SimState, projectId: string): ChannelRecord | undefined {
  const channels = state.channels.filter((c) => c.projectId === projectId);
  return channels.find((c) => c.isDefault) ?? channels[0];
}

/** The release's lifecycle: its channel's, else its project's. */
export function lifecycleOfRelease(
  state: SimState,
  release: ReleaseRecord,
): LifecycleRecord | undefined {
  const channel = find.channel(state, release.channelId);
  const project = state.projects.find((p) => p.id === release.projectId);
  const id = channel?.lifecycleId ?? project?.lifecycleId;
  return state.lifecycles.find((l) => l.id === id);
}

/** Environment ids of a lifecycle's phases, resolving the one phase that lists none ("all the rest"). */
export function phaseEnvironments(state: SimState, lifecycle: LifecycleRecord): string[][] {
  const listed = new Set(
    lifecycle.phases.flatMap((p) => [
      ...p.automaticDeploymentTargets,
      ...p.optionalDeploymentTargets,
    ]),
  );
  return lifecycle.phases.map((phase) => {
    const ids = [...phase.automaticDeploymentTargets, ...phase.optionalDeploymentTargets];
    if (ids.length > 0) return ids;
    return state.environments.filter((e) => !listed.has(e.id)).map((e) => e.id);
  });
}
