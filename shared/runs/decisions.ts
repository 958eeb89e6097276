// Recording an approver's decision in the run row (from the confirmation page or the API), outside any
// advancing lease, like a cancel request: ETag-checked, so two decisions at once are both seen and an
// advancer that wrote in between re-reads. A round takes one decision per approver and none once it is
// decided (a rejection, or enough approvals), so a double click or two approvers at once give exactly
// one transition. The run moves on at its next advance (the caller's, or the status poll's after a
// crash): the decision is in the row before anyone acts on it.
import { silentLog, type Log } from '../runtime/log.js';
import type { Runtime } from '../runtime/runtime.js';
import { advanceRun } from './advance.js';
import {
  approversOf,
  currentRound,
  rejectionOf,
  roundDecided,
  sameApprover,
  undecided,
} from './approval.js';
import { RunStore } from './store.js';
import {
  isFinishedAction,
  isTerminalRunStatus,
  type ActionState,
  type ApprovalDecision,
  type ApprovalRound,
  type PlanApproval,
  type RunState,
} from './types.js';

export interface DecisionInput {
  runId: string;
  by: string;
  decision: 'approve' | 'reject';
  comment?: string;
  via: 'link' | 'api';
  ip?: string;
  /** From a signed link: exactly this action, round and plan, and the link's id. */
  link?: { action: string; round: number; fingerprint: string; tokenId: string };
}

/** The approval a decision is about, with its spec and current round. */
export interface ApprovalAt {
  action: ActionState;
  spec: PlanApproval;
  round: ApprovalRound | undefined;
}

export type DecisionOutcome =
  | { kind: 'recorded'; state: RunState; decision: ApprovalDecision; approval: ApprovalAt }
  /** This person (or this link) decided this round already: nothing changes. */
  | { kind: 'already'; state: RunState; decision: ApprovalDecision; approval: ApprovalAt }
  /** Others decided the round already (a rejection, or enough approvals). */
  | { kind: 'decided'; state: RunState; decisions: ApprovalDecision[]; approval: ApprovalAt }
  /** The link is for an earlier round: the plan changed and a newer request was sent. */
  | { kind: 'superseded'; state: RunState; approval: ApprovalAt }
  /** No approval waits for a decision (not reached yet, being prepared, finished, or the run ended). */
  | { kind: 'notWaiting'; state: RunState; why: string; approval?: ApprovalAt }
  | { kind: 'notFound' };

function approvalOf(state: RunState, actionId: string | undefined): ApprovalAt | undefined {
  const actions = state.stages.flatMap((s) => s.actions);
  const action = actionId
    ? actions.find((a) => a.id === actionId)
    : (actions.find(
        (a) => a.spec.type === 'approval' && (a.status === 'waiting' || a.status === 'resolving'),
      ) ?? actions.filter((a) => a.spec.type === 'approval' && a.approval !== undefined).at(-1));
  if (!action || action.spec.type !== 'approval') return undefined;
  return { action, spec: action.spec, round: currentRound(action.approval) };
}

/** Where the decision stands without recording anything (the confirmation page's GET uses it too). */
export function judgeDecision(
  state: RunState,
  input: Pick<DecisionInput, 'by' | 'link'>,
):
  | Exclude<DecisionOutcome, { kind: 'recorded' } | { kind: 'notFound' }>
  | { kind: 'open'; approval: ApprovalAt } {
  const approval = approvalOf(state, input.link?.action);
  if (!approval)
    return { kind: 'notWaiting', state, why: 'this run has no approval waiting for a decision' };
  const { action, spec } = approval;
  const ap = action.approval;
  const decisions = ap?.decisions ?? [];
  const mine = (round: number) =>
    decisions.find(
      (d) =>
        d.round === round &&
        (sameApprover(d.by, input.by) ||
          (input.link !== undefined && d.tokenId === input.link.tokenId)),
    );
  // A link of an earlier round first: its person is asked again, with the new plan.
  if (input.link && approval.round && input.link.round < approval.round.n)
    return { kind: 'superseded', state, approval };
  const wanted = input.link?.round ?? approval.round?.n;
  if (wanted !== undefined) {
    const already = mine(wanted);
    if (already) return { kind: 'already', state, decision: already, approval };
  }
  if (isFinishedAction(action.status)) {
    const round = approval.round?.n ?? 0;
    const outcome = ap
      ? [...approversOf(ap, round), ...(rejectionOf(ap, round) ? [rejectionOf(ap, round)] : [])]
      : [];
    const decided = outcome.filter((d): d is ApprovalDecision => d !== undefined);
    if (decided.length > 0) return { kind: 'decided', state, decisions: decided, approval };
    return {
      kind: 'notWaiting',
      state,
      why: `the approval ended ${action.status}${action.error ? `: ${action.error}` : action.note ? `: ${action.note}` : ''}`,
      approval,
    };
  }
  if (isTerminalRunStatus(state.status))
    return { kind: 'notWaiting', state, why: `the run has ${state.status}`, approval };
  if (state.status !== 'running')
    return { kind: 'notWaiting', state, why: `the run is ${state.status}`, approval };
  if (action.status !== 'waiting' || !ap || !approval.round)
    return {
      kind: 'notWaiting',
      state,
      why:
        action.status === 'pending'
          ? `the run has not reached approval ${action.id} yet`
          : 'the approval request is being prepared (the plan is being read); try again in a moment',
      approval,
    };
  if (input.link && input.link.fingerprint !== approval.round.fingerprint)
    return { kind: 'superseded', state, approval };
  if (roundDecided(spec, ap, approval.round.n)) {
    const rejected = rejectionOf(ap, approval.round.n);
    return {
      kind: 'decided',
      state,
      decisions: rejected ? [rejected] : approversOf(ap, approval.round.n),
      approval,
    };
  }
  return { kind: 'open', approval };
}

const historyLimit = 100;

/** Record the decision once (retrying on ETag conflicts), then advance the run (best effort). */
export async function recordApprovalDecision(
  runtime: Runtime,
  input: DecisionInput,
  options: { log?: Log; advance?: boolean } = {},
): Promise<DecisionOutcome> {
  const log = options.log ?? silentLog;
  const store = new RunStore(runtime.tables);
  for (let attempt = 0; attempt < 20; attempt++) {
    const loaded = await store.get(input.runId);
    if (!loaded) return { kind: 'notFound' };
    const judged = judgeDecision(loaded.state, input);
    if (judged.kind !== 'open') return judged;
    const next = structuredClone(loaded.state);
    const at = approvalOf(next, judged.approval.action.id);
    const ap = at?.action.approval;
    const round = at?.round;
    if (!at || !ap || !round) return { kind: 'notFound' };
    const now = runtime.clock.now().toISOString();
    const decision: ApprovalDecision = {
      round: round.n,
      by: input.by.trim(),
      decision: input.decision,
      at: now,
      via: input.via,
      ...(input.comment?.trim() ? { comment: input.comment.trim().slice(0, 1000) } : {}),
      ...(input.ip ? { ip: input.ip } : {}),
      ...(input.link ? { tokenId: input.link.tokenId } : {}),
    };
    ap.decisions.push(decision);
    const listed = at.spec.approvers.some((p) => sameApprover(p, decision.by));
    next.history.push({
      at: now,
      message: `${at.action.id}: ${decision.decision === 'approve' ? 'approved' : 'rejected'} by ${decision.by}${listed ? '' : ' (not a listed approver; through the API with the function key)'} via ${decision.via === 'link' ? 'the emailed link' : 'the API'}${decision.ip ? ` from ${decision.ip}` : ''} (round ${round.n}${decision.comment ? `): "${decision.comment}"` : ')'}. Still waiting for: ${decision.decision === 'reject' ? 'nobody' : undecided(at.spec, ap, round.n).join(', ') || 'nobody'}.`,
    });
    if (next.history.length > historyLimit)
      next.history.splice(0, next.history.length - historyLimit);
    next.updatedAt = now;
    if ((await store.replace(next, loaded.etag)) === undefined) continue;
    let state = next;
    if (options.advance !== false) {
      try {
        state = (await advanceRun(runtime, input.runId, { log })).state ?? next;
      } catch (err) {
        log.warn(
          `Run ${input.runId}: the decision is recorded, but advancing the run failed (${(err as Error).message}); the status poll carries on.`,
        );
      }
    }
    const after = approvalOf(state, at.action.id) ?? at;
    return { kind: 'recorded', state, decision, approval: after };
  }
  throw new Error(`Run ${input.runId} changed too often to record the decision; try again.`);
}
