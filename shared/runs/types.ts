// The run engine's vocabulary: the plan a run executes, its stored state, and what decide() reads and asks for.
import type { ConditionRef } from '../config/coordination/conditions.js';
import type { ConcurrencyPolicy } from '../config/coordination/common.js';
import type { ReleaseSelector } from '../config/coordination/playbooks.js';
import type { FreezeHit } from '../freezes/model.js';

/** An exact release chosen before the run (a promotion's choice, or a rollback target). */
export interface ChosenRelease {
  releaseId: string;
  version: string;
  /** Why this release, in words for people ("current and successful in Test"). */
  why: string;
  /** The release train it comes from (a train id, see shared/trains), when it does. */
  train?: string;
}

export type PlanRelease = ReleaseSelector | ChosenRelease;

export function isChosenRelease(release: PlanRelease): release is ChosenRelease {
  return typeof release === 'object' && 'releaseId' in release;
}

/** Deploy one project to one environment for one tenant (null = untenanted). */
export interface PlanDeploy {
  type: 'deploy';
  id: string;
  project: string;
  environment: string;
  tenant: string | null;
  release: PlanRelease;
  when: 'always' | 'ifNotCurrent' | 'ifNewer';
  allowDowngrade: boolean;
  /** A deliberate rollback: may move the environment to an older release. */
  rollback: boolean;
  timeoutMinutes?: number;
}

export interface PlanWait {
  type: 'wait';
  id: string;
  minutes?: number;
  until?: string;
  timeZone?: string;
  condition?: ConditionRef;
  timeoutMinutes?: number;
}

export interface PlanNotify {
  type: 'notify';
  id: string;
  to: string[];
  subject: string;
  body?: string;
}

export interface PlanWebhook {
  type: 'webhook';
  id: string;
  url: string;
  method: 'POST' | 'PUT' | 'GET';
  headers: Record<string, string>;
  body?: unknown;
  timeoutMinutes?: number;
}

export interface PlanRunbook {
  type: 'runbook';
  id: string;
  project: string;
  runbook: string;
  environment: string;
  tenant: string | null;
  timeoutMinutes?: number;
}

export interface PlanCheck {
  type: 'check';
  id: string;
  condition: ConditionRef;
}

/**
 * Wait until `minApprovals` of `approvers` approve the plan of the stages after this one (up to the
 * next approval): exact releases per project, environment and tenant. Alone in its stage.
 */
export interface PlanApproval {
  type: 'approval';
  id: string;
  approvers: string[];
  minApprovals: number;
  timeoutMinutes: number;
}

/** onFailure only: put back the releases that were current before the run (expanded when it starts). */
export interface PlanRedeployPrevious {
  type: 'redeployPrevious';
  id: string;
  projects: string[];
  environment?: string;
  timeoutMinutes?: number;
}

export type PlanAction =
  PlanDeploy | PlanWait | PlanNotify | PlanWebhook | PlanRunbook | PlanCheck | PlanApproval;
export type PlanFailureAction =
  PlanRedeployPrevious | PlanNotify | PlanWebhook | PlanRunbook | PlanDeploy;

export interface PlanStage {
  name: string;
  actions: PlanAction[];
}

/** A project/environment/tenant whose release before the run is captured (for redeployPrevious and the story). */
export interface PlanCell {
  project: string;
  environment: string;
  tenant: string | null;
}

/** What a run executes. A playbook becomes one (planFromPlaybook); a promotion can build one directly. */
export interface RunPlan {
  kind: 'playbook' | 'promotion' | 'adhoc';
  /** The playbook or promotion name. */
  name: string;
  description?: string;
  /** The environment and tenant conditions are checked in when they name none. */
  environment?: string;
  tenant?: string;
  stages: PlanStage[];
  /** Run in order after a failure (each entry's deploys in parallel). */
  onFailure: PlanFailureAction[];
  onFailureWhenCancelled: boolean;
  timeoutMinutes: number;
  /** Who gets the "run finished" email (none: no email). */
  recipients: string[];
  /** Cells to capture before the first stage; derived from the stages and onFailure when omitted. */
  capture?: PlanCell[];
  /** The run's concurrency group and policy (default: kind/name × environment × tenant, queue). */
  concurrency?: { group: string; policy: ConcurrencyPolicy };
  /** redeployPrevious order: projects put back in reverse dependency order (default) or together. */
  rollbackOrder?: 'reverseDependency' | 'parallel';
  /** How deep each project sits in the config's dependsOn (0: needs nothing), for the rollback order. */
  dependencyDepth?: Record<string, number>;
  /** While a freeze covers a deploy's target: wait for it to end (default), or fail the action. */
  onFreeze?: 'wait' | 'fail';
}

export type RunStatus =
  /** Waiting for its turn in its concurrency group. */
  | 'queued'
  | 'running'
  | 'failing'
  | 'cancelling'
  | 'rollingBack'
  | 'succeeded'
  | 'failed'
  | 'cancelled';
export const terminalRunStatuses: readonly RunStatus[] = ['succeeded', 'failed', 'cancelled'];
export const isTerminalRunStatus = (s: RunStatus): boolean => terminalRunStatuses.includes(s);

export type ActionStatus =
  | 'pending'
  /** Reading Octopus (release choice, condition): safe to repeat. */
  | 'resolving'
  /** An irreversible call is intended or in flight (see intent). */
  | 'starting'
  /** An Octopus task runs (deploy, runbook). */
  | 'running'
  /** A wait action waits for its time or condition. */
  | 'waiting'
  | 'succeeded'
  | 'skipped'
  | 'failed'
  | 'timedOut'
  | 'cancelled';

export const finishedActionStatuses: readonly ActionStatus[] = [
  'succeeded',
  'skipped',
  'failed',
  'timedOut',
  'cancelled',
];
export const isFinishedAction = (s: ActionStatus): boolean => finishedActionStatuses.includes(s);
export const isFailedAction = (s: ActionStatus): boolean => s === 'failed' || s === 'timedOut';

/** An irreversible call recorded before it is made, so a crash between call and record is reconciled. */
export interface Intent {
  kind: 'createDeployment' | 'runRunbook' | 'sendMail' | 'callWebhook';
  attempt: number;
  recordedAt: string;
  /** The advancing lease under which it was recorded; another lease finding it means the caller died. */
  leaseId: string;
  /** Set after an ambiguous failure: look for what the attempt created before calling again. */
  recover?: boolean;
}

export interface ReleaseRef {
  releaseId: string;
  version: string;
}

/** What the executor read from Octopus about a deploy action's target. */
export interface DeployResolution {
  projectId: string;
  environmentId: string;
  tenantId: string | null;
  channelId?: string;
  release: ReleaseRef;
  /** Why this release was chosen. */
  why: string;
  /** The dashboard's current deployment there (latest by creation, any state). */
  current?: ReleaseRef & { state: string; deploymentId: string; taskId: string };
  /** The last successful deployment there. */
  lastSuccessful?: ReleaseRef;
  /**
   * Whether Octopus's lifecycle lets this release in there now, as the server answered; read only
   * when the action would otherwise deploy (absent: not read, nothing to refuse on).
   */
  lifecycle?: LifecycleVerdict;
  /**
   * The freezes (the coordinator's and Octopus's) covering the target when it was read; read only
   * when the action would otherwise deploy. `notes` say what could not be checked.
   */
  freeze?: { hits: FreezeHit[]; notes: string[] };
}

/** Octopus's answer to "may this release be deployed there now?" (its deployments/template). */
export interface LifecycleVerdict {
  allowed: boolean;
  /** Names of the environments the release may go to now (for this tenant, when tenanted). */
  allowedEnvironments: string[];
}

export type DeployDecision =
  | { kind: 'deploy'; why: string }
  | { kind: 'join'; deploymentId: string; taskId: string; why: string }
  | { kind: 'skip'; why: string }
  | { kind: 'refuse'; why: string }
  /** A freeze covers the target: no deployment starts there until it ends (see freezes/). */
  | { kind: 'frozen'; why: string };

export interface ActionState {
  /** Unique within the run; tenants get `<id>@<tenant>`, onFailure entries `onFailure.<n>.<id>`. */
  id: string;
  spec: PlanAction | PlanDeploy;
  status: ActionStatus;
  startedAt?: string;
  finishedAt?: string;
  /** When the action times out. */
  deadline?: string;
  attempt: number;
  intent?: Intent;
  /** A command for this action was issued and its observation has not arrived yet. */
  awaiting?: boolean;
  /** The lease under which that command was issued (another lease means its issuer died). */
  issuedUnder?: string;
  /** The run asked Octopus to cancel this action's task. */
  cancelRequested?: boolean;
  /** Do not repeat a failed read before this time. */
  retryAt?: string;
  failures: number;
  resolution?: DeployResolution;
  decision?: DeployDecision;
  deploymentId?: string;
  runbookRunId?: string;
  taskId?: string;
  taskState?: string;
  taskLink?: string;
  /** Since when its task has been waiting for someone in Octopus; its timeout waits meanwhile. */
  pausedSince?: string;
  /** The task it followed before Octopus superseded that one (then this is the newer one). */
  supersededTaskId?: string;
  /** True when the run joined a deployment someone else started (the run never cancels those). */
  joined?: boolean;
  /**
   * The deploy's claim on its project × environment × tenant (lock `deploy/<ids>` of shared/locks):
   * held (leaseId) from just before its deployment is created until it ends, or a place in that
   * lock's queue while another run's deployment of a different release is active there.
   */
  claim?: DeployClaim;
  /** Wait actions: when the wait ends; condition waits: when to check again. */
  waitUntil?: string;
  nextCheckAt?: string;
  /** What happened, for people. */
  note?: string;
  error?: string;
  /** onFailure rollbacks: started after every action of a lower wave has finished. */
  wave?: number;
  /** A freeze holds this deploy back (since when, and why); cleared when it may deploy again. */
  frozen?: { since: string; why: string };
  /** Approval actions: the rounds, emails and decisions. */
  approval?: ApprovalState;
}

/** One deployment an approval covers: what would be deployed where, exactly. */
export interface ApprovalItem {
  stage: string;
  actionId: string;
  project: string;
  environment: string;
  tenant: string | null;
  releaseId: string;
  version: string;
  why: string;
  /** The release train the release comes from, when the deploy takes it from one. */
  train?: string;
}

/** One approver's decision, as recorded (never changed afterwards). */
export interface ApprovalDecision {
  round: number;
  by: string;
  decision: 'approve' | 'reject';
  at: string;
  comment?: string;
  /** The signed link's confirmation page, or the HTTP API with the function key. */
  via: 'link' | 'api';
  /** The caller's address as the platform passed it on (X-Forwarded-For), when known. */
  ip?: string;
  /** The link's id (a link is used once). */
  tokenId?: string;
}

/** The approval email to one approver in one round (each approver gets one, with a link of their own). */
export interface ApprovalMail {
  to: string;
  status: 'pending' | 'sending' | 'sent' | 'unknown' | 'failed';
  /** The advancing lease the send was issued under (another one finding 'sending' means it died). */
  issuedUnder?: string;
  failures?: number;
  retryAt?: string;
  error?: string;
}

/** One request for approval of one plan; a changed plan opens a new round. */
export interface ApprovalRound {
  n: number;
  /** Hash of the items' project, environment, tenant and release id: what an approval binds to. */
  fingerprint: string;
  items: ApprovalItem[];
  requestedAt: string;
  /** When the approvers' time is up (the action's deadline). */
  expiresAt: string;
  /** Why this round was opened when it is not the first (the plan changed). */
  reason?: string;
  mails: ApprovalMail[];
}

export interface ApprovalState {
  rounds: ApprovalRound[];
  decisions: ApprovalDecision[];
  /** Enough approvals: the plan is read again to confirm it is still the approved one. */
  verifying?: boolean;
  /** The run's own time left when the wait began; the run's deadline pauses while people decide. */
  runRemainingMs: number;
}

export interface DeployClaim {
  lock: string;
  /**
   * Held under this lease; absent while queued, and while the claim is being asked for (a grant whose
   * answer was lost with the instance that asked is found again by the action's request id).
   */
  leaseId?: string;
  /** A release (or leave) was issued under this advancing lease and its answer is awaited. */
  releaseIssuedUnder?: string;
  /** While waiting: the runs whose deployment there it waits for, and its place (1 = next). */
  waitingFor?: string[];
  position?: number;
  /** A failed release is tried again after this time. */
  retryAt?: string;
}

export interface StageState {
  name: string;
  status: 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'skipped';
  startedAt?: string;
  finishedAt?: string;
  actions: ActionState[];
}

export interface CapturedCell extends PlanCell {
  projectId?: string;
  environmentId?: string;
  tenantId?: string | null;
  current?: ReleaseRef & { state: string };
  lastSuccessful?: ReleaseRef;
}

export interface OnFailureStep {
  entry: PlanFailureAction;
  status: 'pending' | 'running' | 'succeeded' | 'failed';
  actions: ActionState[];
}

export interface RunTrigger {
  kind: 'api' | 'rule' | 'schedule' | 'promotion';
  /** Who or what started it: the API caller, the rule name, the promotion slot. */
  by?: string;
  /** The Octopus event that fired a rule. */
  eventId?: string;
  /**
   * Rule-started runs: each rule that led here, oldest first. A rule firing on a deployment made by
   * an earlier rule-started run extends that run's chain; the chain's length is its depth.
   */
  chain?: RuleLink[];
}

/** One rule firing: which rule, on which event about which deployment, made by which run (if any). */
export interface RuleLink {
  rule: string;
  eventId: string;
  deploymentId: string;
  /** The coordinator run that created the deployment, when one did. */
  byRun?: string;
}

/** The run's place in its concurrency group (a lock of shared/locks: `run-group/<group>`). */
export interface RunConcurrency {
  group: string;
  policy: ConcurrencyPolicy;
  lock: string;
  /** The run holds the group's lock under this lease (renewed while it runs, released when it ends). */
  leaseId?: string;
  /** Released (or left the queue) after the run ended. */
  released?: boolean;
  /** While queued: 1 = next in line. */
  position?: number;
  /** While queued: the runs it waits for (the group's active run). */
  waitingFor?: string[];
}

export interface RunState {
  schema: 1;
  id: string;
  plan: RunPlan;
  trigger: RunTrigger;
  status: RunStatus;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  /** createdAt + plan.timeoutMinutes. */
  deadline: string;
  stageIndex: number;
  stages: StageState[];
  previous: {
    captured: boolean;
    retryAt?: string;
    failures: number;
    cells: CapturedCell[];
    error?: string;
    awaiting?: boolean;
    issuedUnder?: string;
  };
  /** Why the run failed (first failure). */
  failure?: { stage?: string; actionId?: string; message: string };
  /** Written by the cancel API (outside any lease); decide() turns it into `cancel`. */
  cancelRequest?: { requestedAt: string; by?: string; reason?: string };
  cancel?: { requestedAt: string; by?: string; reason?: string };
  /** The run's own timeout passed. */
  timedOut?: boolean;
  /**
   * Since when one of its deployments has been waiting for someone in Octopus (a manual intervention
   * or guided failure). The run's timeout does not run meanwhile: its deadline moves by the pause.
   */
  pausedSince?: string;
  /**
   * Octopus cancelled one of its deployments because a newer one to the same target superseded it:
   * the run stops (no new work, no onFailure) and ends cancelled with this as the reason.
   */
  superseded?: { actionId: string; by: Superseding; message: string };
  onFailure: {
    status: 'notRun' | 'running' | 'succeeded' | 'failed' | 'skipped';
    stepIndex: number;
    steps: OnFailureStep[];
  };
  /** Octopus tasks the run asked to cancel and has not yet had acknowledged. */
  pendingCancels: string[];
  cancelRetryAt?: string;
  cancelAwaiting?: boolean;
  cancelIssuedUnder?: string;
  /** The "run finished" email. */
  finishedMail: {
    status: 'none' | 'pending' | 'sending' | 'sent' | 'failed' | 'unknown';
    intent?: Intent;
    retryAt?: string;
    failures?: number;
    error?: string;
  };
  /**
   * Who advances the run now: the lease id and fence of the run's lock (`job/run/<id>` in shared/locks),
   * which is what lets at most one instance act on a run at a time. Intents and issued commands name
   * `id`, so a later advancer (another grant) knows their issuer is gone. `until` is only in rows
   * written before runs took their lock from shared/locks; it is not read.
   */
  lease?: { id: string; owner: string; fence?: number; until?: string };
  /** The fence of the newest run-lock grant that wrote this row: a holder with an older one stops. */
  lockFence?: number;
  concurrency?: RunConcurrency;
  /** Newest last, capped: what happened, for people. */
  history: { at: string; message: string }[];
}

/** What the executor does. Only these touch the outside world. */
export type Command =
  | { kind: 'capturePrevious'; cells: PlanCell[] }
  | { kind: 'resolveDeploy'; actionId: string; spec: PlanDeploy }
  | {
      kind: 'createDeployment';
      actionId: string;
      attempt: number;
      marker: string;
      recover: boolean;
      resolution: DeployResolution;
      /** A rollback: created with Octopus's priority (2025.2+) so it jumps the task queue. */
      priority?: boolean;
    }
  | {
      kind: 'runRunbook';
      actionId: string;
      attempt: number;
      marker: string;
      recover: boolean;
      spec: PlanRunbook;
    }
  | { kind: 'cancelTask'; taskId: string }
  /** Claim the deploy's target before creating a deployment there, and read it again under the claim. */
  | { kind: 'claimDeploy'; actionId: string; spec: PlanDeploy; resolution: DeployResolution }
  /** Give back a deploy's claim (or its place in the claim's queue). */
  | { kind: 'releaseClaim'; actionId: string; lock: string; leaseId?: string }
  | {
      kind: 'evaluateCondition';
      actionId: string;
      condition: ConditionRef;
      environment?: string;
      tenant?: string;
    }
  | { kind: 'sendMail'; actionId: string; to: string[]; subject: string; text: string }
  | { kind: 'callWebhook'; actionId: string; spec: PlanWebhook }
  | { kind: 'sendFinishedMail'; to: string[] }
  /** Read the exact releases the stages after an approval would deploy (read-only). */
  | { kind: 'resolveApprovalPlan'; actionId: string; deploys: ApprovalTarget[] }
  /** Email one approver the plan and a signed link of their own. */
  | {
      kind: 'sendApprovalMail';
      actionId: string;
      round: number;
      to: string;
      fingerprint: string;
      expiresAt: string;
    };

/** A deploy an approval covers, with the stage it is in. */
export interface ApprovalTarget {
  stage: string;
  spec: PlanDeploy;
}

export const irreversibleCommands: ReadonlySet<Command['kind']> = new Set([
  'createDeployment',
  'runRunbook',
  'sendMail',
  'callWebhook',
  'sendFinishedMail',
  'sendApprovalMail',
]);

/** The newer deployment to the same project/environment/tenant that superseded a cancelled one. */
export interface Superseding {
  deploymentId: string;
  taskId: string;
  releaseId: string;
  version?: string;
  /** The coordinator run that created it (from its Comments marker), if any. */
  byRun?: string;
}

/** What the executor (or a poll, or a webhook) saw. */
export type Observation =
  | { kind: 'previousCaptured'; cells: CapturedCell[] }
  | { kind: 'deployResolved'; actionId: string; resolution: DeployResolution }
  | {
      kind: 'deploymentStarted';
      actionId: string;
      deploymentId: string;
      taskId: string;
      recovered: boolean;
    }
  | {
      kind: 'runbookStarted';
      actionId: string;
      runbookRunId: string;
      taskId: string;
      recovered: boolean;
    }
  | {
      kind: 'task';
      taskId: string;
      state: string;
      errorMessage?: string;
      hasPendingInterruptions?: boolean;
      /** Manual intervention, guided failure, …; absent on servers up to 2026.1.419. */
      pendingInterruptionTypes?: string[];
      link?: string;
      /** A Canceled deployment task that Octopus (2025.2+) cancelled because a newer one superseded it. */
      superseded?: Superseding;
    }
  | { kind: 'taskCancelRequested'; taskId: string }
  | {
      kind: 'deployClaimed';
      actionId: string;
      lock: string;
      leaseId: string;
      resolution: DeployResolution;
    }
  | {
      kind: 'deployClaimWaiting';
      actionId: string;
      lock: string;
      position: number | null;
      waitingFor: string[];
      resolution: DeployResolution;
    }
  | { kind: 'claimReleased'; actionId: string; lock: string; wake: string[] }
  /** The last check before creating a deployment found a freeze: nothing was created. */
  | { kind: 'deployFrozen'; actionId: string; why: string; hits: FreezeHit[] }
  | { kind: 'conditionEvaluated'; actionId: string; ok: boolean; reasons: string[] }
  | { kind: 'mailSent'; actionId: string }
  | { kind: 'finishedMailSent' }
  | { kind: 'webhookCalled'; actionId: string; status: number }
  | { kind: 'cancelRequested'; by?: string; reason?: string }
  | { kind: 'approvalPlanResolved'; actionId: string; items: ApprovalItem[]; fingerprint: string }
  | { kind: 'approvalMailSent'; actionId: string; round: number; to: string }
  | { kind: 'commandFailed'; command: Command; message: string; retryable: boolean };

/**
 * Whether a run still has work: it has not finished, its "run finished" email is still to go, or it
 * has not yet given back its turn in its concurrency group.
 */
export function runHasWork(state: RunState): boolean {
  return (
    !isTerminalRunStatus(state.status) ||
    state.finishedMail.status === 'pending' ||
    state.finishedMail.status === 'sending' ||
    (state.concurrency !== undefined && state.concurrency.released !== true) ||
    [
      ...state.stages.flatMap((st) => st.actions),
      ...state.onFailure.steps.flatMap((st) => st.actions),
    ].some((a) => a.claim !== undefined)
  );
}

export interface Decision {
  state: RunState;
  commands: Command[];
}
