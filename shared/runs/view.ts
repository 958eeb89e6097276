// What the API and emails show of a run: stage by stage, action by action, without engine internals.
import { approversOf, currentRound, rejectionOf, undecided } from './approval.js';
import type { ActionState, ApprovalDecision, ApprovalItem, RunState } from './types.js';

/** An approval as the API and the page show it: who is asked, until when, who decided, the plan. */
export interface ApprovalView {
  actionId: string;
  approvers: string[];
  minApprovals: number;
  /** Current round (1 = first request; a changed plan opens the next). */
  round: number;
  /** When the approvers' time is up. */
  until?: string;
  /** Listed approvers who have not decided the current round. */
  waitingFor: string[];
  approvedBy: string[];
  rejectedBy?: string;
  /** Enough approvals: the plan is being read again to confirm it is the approved one. */
  confirming: boolean;
  fingerprint?: string;
  /** Why the current round was opened, when it is not the first. */
  reason?: string;
  plan: ApprovalItem[];
  /** Every decision of every round, oldest first. */
  decisions: ApprovalDecision[];
  /** Per approver of the current round: whether their email went out. */
  mails: { to: string; status: string }[];
}

export function approvalView(a: ActionState): ApprovalView | undefined {
  const spec = a.spec;
  if (spec.type !== 'approval') return undefined;
  const ap = a.approval;
  const round = currentRound(ap);
  const n = round?.n ?? 0;
  return {
    actionId: a.id,
    approvers: spec.approvers,
    minApprovals: spec.minApprovals,
    round: n,
    ...(round ? { until: round.expiresAt, fingerprint: round.fingerprint } : {}),
    ...(round?.reason ? { reason: round.reason } : {}),
    waitingFor: ap && round ? undecided(spec, ap, n) : spec.approvers,
    approvedBy: ap ? approversOf(ap, n).map((d) => d.by) : [],
    ...(ap && rejectionOf(ap, n) ? { rejectedBy: rejectionOf(ap, n)?.by } : {}),
    confirming: ap?.verifying === true,
    plan: round?.items ?? [],
    decisions: ap?.decisions ?? [],
    mails: round?.mails.map((m) => ({ to: m.to, status: m.status })) ?? [],
  };
}

/** The approval the run waits on now, if any. */
export function waitingApproval(run: RunState): ApprovalView | undefined {
  if (run.status !== 'running') return undefined;
  const a = run.stages[run.stageIndex]?.actions.find(
    (x) => x.spec.type === 'approval' && (x.status === 'waiting' || x.status === 'resolving'),
  );
  return a ? approvalView(a) : undefined;
}

export interface ActionView {
  id: string;
  type: string;
  describe: string;
  status: string;
  project?: string;
  environment?: string;
  tenant?: string | null;
  release?: { version: string; releaseId: string; why: string };
  decision?: string;
  deploymentId?: string;
  taskId?: string;
  taskState?: string;
  taskLink?: string;
  joined?: boolean;
  /** While its Octopus task waits for a manual intervention or guided failure: since when. */
  waitingInOctopusSince?: string;
  /** While a freeze holds this deploy back: since when and why (the note says the same). */
  frozen?: { since: string; why: string };
  startedAt?: string;
  finishedAt?: string;
  note?: string;
  error?: string;
  approval?: ApprovalView;
}

export function actionView(a: ActionState): ActionView {
  const spec = a.spec;
  const base: ActionView = {
    id: a.id,
    type: spec.type,
    describe: `${spec.type} ${a.id}`,
    status: a.status,
  };
  if (spec.type === 'deploy') {
    base.describe = `deploy ${spec.project} to ${spec.environment}${spec.tenant ? ` for ${spec.tenant}` : ''}`;
    base.project = spec.project;
    base.environment = spec.environment;
    base.tenant = spec.tenant;
    if (a.resolution) base.release = { ...a.resolution.release, why: a.resolution.why };
    if (a.decision) base.decision = `${a.decision.kind}: ${a.decision.why}`;
  } else if (spec.type === 'runbook') {
    base.describe = `run runbook ${spec.runbook} of ${spec.project} in ${spec.environment}${spec.tenant ? ` for ${spec.tenant}` : ''}`;
    base.project = spec.project;
    base.environment = spec.environment;
    base.tenant = spec.tenant;
  } else if (spec.type === 'notify') base.describe = `email "${spec.subject}"`;
  else if (spec.type === 'webhook') base.describe = `call ${spec.method} ${new URL(spec.url).host}`;
  else if (spec.type === 'check')
    base.describe = `check ${typeof spec.condition === 'string' ? spec.condition : spec.condition.type}`;
  else if (spec.type === 'approval') {
    base.describe = `approval by ${spec.minApprovals} of ${spec.approvers.join(', ')}`;
    base.approval = approvalView(a);
  } else if (spec.type === 'wait')
    base.describe = spec.minutes
      ? `wait ${spec.minutes} minutes`
      : spec.until
        ? `wait until ${spec.until}`
        : 'wait for a condition';
  const optional = {
    deploymentId: a.deploymentId,
    taskId: a.taskId,
    taskState: a.taskState,
    taskLink: a.taskLink,
    joined: a.joined,
    waitingInOctopusSince: a.pausedSince,
    frozen: a.frozen,
    startedAt: a.startedAt,
    finishedAt: a.finishedAt,
    note: a.note,
    error: a.error,
  };
  for (const [k, v] of Object.entries(optional))
    if (v !== undefined) Object.assign(base, { [k]: v });
  return base;
}

export interface RunView {
  id: string;
  kind: string;
  name: string;
  status: string;
  /** One sentence for people. */
  summary: string;
  /** The environment (and tenant) the run is for, when it names one. */
  environment: string | undefined;
  tenant: string | undefined;
  trigger: RunState['trigger'];
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  deadline: string;
  failure?: RunState['failure'];
  cancel?: RunState['cancel'];
  /** Octopus superseded one of its deployments with a newer one: why the run stopped. */
  superseded?: RunState['superseded'];
  stages: {
    name: string;
    status: string;
    startedAt?: string;
    finishedAt?: string;
    actions: ActionView[];
  }[];
  onFailure: { status: string; steps: { type: string; status: string; actions: ActionView[] }[] };
  previous: {
    project: string;
    environment: string;
    tenant: string | null;
    version?: string;
    releaseId?: string;
  }[];
  finishedMail: string;
  /** Set while the run waits for people to approve: by whom, until when, the plan. */
  waitingForApproval?: ApprovalView;
  /** The run's concurrency group; while queued, its position (1 = next) and the runs it waits for. */
  concurrency?: {
    group: string;
    policy: string;
    queued: boolean;
    position?: number;
    waitingFor?: string[];
  };
  history: RunState['history'];
}

/** "queued in group … (position 1), waiting for run-…", or undefined when the run is not queued. */
export function queuedText(run: RunState): string | undefined {
  const c = run.concurrency;
  if (run.status !== 'queued' || !c) return undefined;
  const waits = c.waitingFor?.length ? `, waiting for ${c.waitingFor.join(', ')}` : '';
  return `queued in concurrency group "${c.group}" (position ${c.position ?? '?'})${waits}`;
}

export function runSummary(run: RunState): string {
  const name = `${run.plan.kind} "${run.plan.name}"`;
  switch (run.status) {
    case 'queued':
      return `${name} is ${queuedText(run) ?? 'queued'}`;
    case 'running': {
      const approval = waitingApproval(run);
      if (approval)
        return approval.until
          ? `${name} is waiting for approval (${approval.approvedBy.length} of ${approval.minApprovals}) by ${approval.waitingFor.join(', ') || 'nobody left'} until ${approval.until}`
          : `${name} is preparing its approval request (reading the plan)`;
      const frozen = run.stages[run.stageIndex]?.actions.find((a) => a.frozen);
      if (frozen?.frozen)
        return `${name} is waiting before its next deployment: ${frozen.frozen.why}`;
      const paused = run.stages[run.stageIndex]?.actions.find((a) => a.pausedSince);
      return `${name} is running stage ${run.stageIndex + 1} of ${run.stages.length} (${run.stages[run.stageIndex]?.name ?? ''})${paused ? `; ${paused.id} is ${paused.note ?? 'waiting for someone in Octopus'}` : ''}`;
    }
    case 'failing':
      return `${name} failed (${run.failure?.message ?? ''}); waiting for running deployments to end before onFailure`;
    case 'cancelling':
      return run.superseded
        ? `${name} is stopping: ${run.superseded.actionId}: ${run.superseded.message}; waiting for what still runs`
        : `${name} is being cancelled; waiting for the Octopus tasks it started to stop`;
    case 'rollingBack':
      return `${name} failed (${run.failure?.message ?? 'cancelled'}); running onFailure`;
    case 'succeeded':
      return `${name} succeeded`;
    case 'cancelled':
      if (run.superseded)
        return `${name} stopped: ${run.superseded.actionId}: ${run.superseded.message}`;
      return `${name} was cancelled${run.onFailure.status === 'succeeded' ? '; onFailure ran' : ''}`;
    case 'failed':
      return `${name} failed: ${run.failure?.message ?? ''}${run.onFailure.status === 'succeeded' ? '; rolled back' : run.onFailure.status === 'failed' ? '; onFailure failed too' : ''}`;
  }
}

export function runView(run: RunState): RunView {
  return {
    id: run.id,
    kind: run.plan.kind,
    name: run.plan.name,
    status: run.status,
    summary: runSummary(run),
    environment: run.plan.environment,
    tenant: run.plan.tenant,
    trigger: run.trigger,
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
    finishedAt: run.finishedAt,
    deadline: run.deadline,
    failure: run.failure,
    cancel: run.cancel,
    ...(run.superseded ? { superseded: run.superseded } : {}),
    stages: run.stages.map((s) => ({
      name: s.name,
      status: s.status,
      startedAt: s.startedAt,
      finishedAt: s.finishedAt,
      actions: s.actions.map(actionView),
    })),
    onFailure: {
      status: run.onFailure.status,
      steps: run.onFailure.steps.map((st) => ({
        type: st.entry.type,
        status: st.status,
        actions: st.actions.map(actionView),
      })),
    },
    previous: run.previous.cells.map((c) => ({
      project: c.project,
      environment: c.environment,
      tenant: c.tenant,
      version: c.lastSuccessful?.version,
      releaseId: c.lastSuccessful?.releaseId,
    })),
    finishedMail: run.finishedMail.status,
    ...(waitingApproval(run) ? { waitingForApproval: waitingApproval(run) } : {}),
    ...(run.concurrency
      ? {
          concurrency: {
            group: run.concurrency.group,
            policy: run.concurrency.policy,
            queued: run.status === 'queued',
            ...(run.status === 'queued'
              ? { position: run.concurrency.position, waitingFor: run.concurrency.waitingFor ?? [] }
              : {}),
          },
        }
      : {}),
    history: run.history,
  };
}
