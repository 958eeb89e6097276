// Approval actions: the run waits until enough approvers approve the exact plan of the stages after
// the approval (releases per project, environment and tenant), or one rejects, or time runs out.
//
// Life of an approval (all in decide(), no I/O): read the plan (resolveApprovalPlan) → open a round:
// its fingerprint, one email per approver (sendApprovalMail, each with its own signed link) → wait.
// Decisions are written into the run row from outside (the confirmation page or the API, ETag-checked,
// see decisions.ts) and counted here. With enough approvals the plan is read again: the same
// fingerprint approves the action and pins those releases into the deploys it covers (what was
// approved is what runs); a changed plan opens a new round and asks again. A rejection or the
// deadline fails the action, so the stage fails and the run's onFailure runs.
import { createHash } from 'node:crypto';
import {
  addMs,
  backoffMs,
  due,
  iso,
  issue,
  leaseId,
  note,
  setStatus,
  type Ctx,
} from './stepContext.js';
import type {
  ActionState,
  ApprovalDecision,
  ApprovalItem,
  ApprovalRound,
  ApprovalState,
  ApprovalTarget,
  Command,
  Observation,
  PlanApproval,
  RunState,
} from './types.js';

/** A plan that keeps changing is asked about this many times, then the approval fails. */
export const maxApprovalRounds = 10;
/** An approval email that fails is tried this many times. */
const approvalMailAttempts = 3;

/** How approvers are compared: emails and API names, case and surrounding space ignored. */
export const sameApprover = (a: string, b: string): boolean =>
  a.trim().toLowerCase() === b.trim().toLowerCase();

/** What an approval binds to: project, environment, tenant and release id of every covered deploy. */
export function approvalFingerprint(
  items: readonly Pick<
    ApprovalItem,
    'project' | 'environment' | 'tenant' | 'releaseId' | 'train'
  >[],
): string {
  const lines = items
    .map(
      (i) =>
        `${i.project}\u0000${i.environment}\u0000${i.tenant ?? ''}\u0000${i.releaseId}${i.train ? `\u0000${i.train}` : ''}`,
    )
    .sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16);
}

/** The deploys an approval covers: those of the stages after its own, up to the next approval. */
export function approvalTargets(s: RunState, actionId: string): ApprovalTarget[] {
  const at = s.stages.findIndex((st) => st.actions.some((x) => x.id === actionId));
  const out: ApprovalTarget[] = [];
  if (at < 0) return out;
  for (const stage of s.stages.slice(at + 1)) {
    if (stage.actions.some((x) => x.spec.type === 'approval')) break;
    for (const x of stage.actions)
      if (x.spec.type === 'deploy') out.push({ stage: stage.name, spec: x.spec });
  }
  return out;
}

export function approvalPlanCommand(s: RunState, a: ActionState): Command {
  return { kind: 'resolveApprovalPlan', actionId: a.id, deploys: approvalTargets(s, a.id) };
}

export function currentRound(ap: ApprovalState | undefined): ApprovalRound | undefined {
  return ap?.rounds[ap.rounds.length - 1];
}

/** Who approved round `n`, each once, in the order they did. */
export function approversOf(ap: ApprovalState, n: number): ApprovalDecision[] {
  const out: ApprovalDecision[] = [];
  for (const d of ap.decisions)
    if (d.round === n && d.decision === 'approve' && !out.some((o) => sameApprover(o.by, d.by)))
      out.push(d);
  return out;
}

export function rejectionOf(ap: ApprovalState, n: number): ApprovalDecision | undefined {
  return ap.decisions.find((d) => d.round === n && d.decision === 'reject');
}

/** Whether round `n` needs no more decisions (a rejection, or enough approvals). */
export function roundDecided(spec: PlanApproval, ap: ApprovalState, n: number): boolean {
  return rejectionOf(ap, n) !== undefined || approversOf(ap, n).length >= spec.minApprovals;
}

/** The approvers who have not decided round `n` yet. */
export function undecided(spec: PlanApproval, ap: ApprovalState, n: number): string[] {
  return spec.approvers.filter(
    (p) => !ap.decisions.some((d) => d.round === n && sameApprover(d.by, p)),
  );
}

/** "Database 1.6.1 to Production; Web API 2.18.1 to Production (Acme)". */
export function itemsText(items: readonly ApprovalItem[]): string {
  if (items.length === 0) return 'no deployments';
  return items
    .map((i) => `${i.project} ${i.version} to ${i.environment}${i.tenant ? ` (${i.tenant})` : ''}`)
    .join('; ');
}

function decisionText(d: ApprovalDecision): string {
  return `${d.by}${d.comment ? ` ("${d.comment}")` : ''}`;
}

/** The run's deadline pauses while people decide: it is the approval's deadline plus the time the run had left. */
function pauseRunDeadline(ctx: Ctx, a: ActionState): void {
  if (!a.approval || !a.deadline) return;
  ctx.s.deadline = addMs(new Date(a.deadline), a.approval.runRemainingMs);
}

function resumeRunDeadline(ctx: Ctx, a: ActionState): void {
  if (!a.approval) return;
  ctx.s.deadline = addMs(ctx.now, a.approval.runRemainingMs);
}

export function startApproval(ctx: Ctx, a: ActionState): void {
  const { s, now } = ctx;
  a.status = 'resolving';
  a.approval = {
    rounds: [],
    decisions: [],
    runRemainingMs: Math.max(0, Date.parse(s.deadline) - now.getTime()),
  };
  pauseRunDeadline(ctx, a);
  issue(ctx, a, approvalPlanCommand(s, a));
}

/** Why the plan differs from the approved one, in words. */
function planDiff(before: readonly ApprovalItem[], after: readonly ApprovalItem[]): string {
  const key = (i: ApprovalItem) => `${i.project}\u0000${i.environment}\u0000${i.tenant ?? ''}`;
  const where = (i: ApprovalItem) =>
    `${i.project} in ${i.environment}${i.tenant ? ` for ${i.tenant}` : ''}`;
  const was = new Map(before.map((i) => [key(i), i]));
  const changes: string[] = [];
  for (const i of after) {
    const old = was.get(key(i));
    if (!old) changes.push(`${where(i)} ${i.version} was not in the plan`);
    else if (old.releaseId !== i.releaseId)
      changes.push(`${where(i)} is now ${i.version} instead of ${old.version}`);
    was.delete(key(i));
  }
  for (const old of was.values()) changes.push(`${where(old)} ${old.version} is no longer in it`);
  return changes.join('; ') || 'the releases differ';
}

function openRound(
  ctx: Ctx,
  a: ActionState,
  spec: PlanApproval,
  o: Extract<Observation, { kind: 'approvalPlanResolved' }>,
  reason?: string,
): void {
  const { now } = ctx;
  const ap = a.approval;
  if (!ap) return;
  const n = ap.rounds.length + 1;
  if (n > maxApprovalRounds) {
    setStatus(
      ctx,
      a,
      'failed',
      `the plan changed ${maxApprovalRounds} times while it was being approved (${reason ?? ''}); start the run again when the releases have settled`,
    );
    resumeRunDeadline(ctx, a);
    return;
  }
  // Each round gives the approvers their full time again.
  if (n > 1) a.deadline = addMs(now, spec.timeoutMinutes * 60_000);
  const expiresAt = a.deadline ?? addMs(now, spec.timeoutMinutes * 60_000);
  const to: string[] = [];
  for (const p of spec.approvers) if (!to.some((t) => sameApprover(t, p))) to.push(p);
  ap.rounds.push({
    n,
    fingerprint: o.fingerprint,
    items: o.items,
    requestedAt: iso(now),
    expiresAt,
    ...(reason ? { reason } : {}),
    mails: to.map((t) => ({ to: t, status: 'pending' })),
  });
  a.status = 'waiting';
  a.note = waitingNote(spec, ap);
  pauseRunDeadline(ctx, a);
  note(
    ctx,
    `${a.id}: ${reason ? `asking again, because ${reason}. ` : ''}Waiting until ${expiresAt} for ${spec.minApprovals} approval(s) from ${spec.approvers.join(', ')} of the plan (round ${n}, ${o.fingerprint}): ${itemsText(o.items)}.`,
  );
}

export function waitingNote(spec: PlanApproval, ap: ApprovalState): string {
  const round = currentRound(ap);
  if (!round) return 'reading the plan to ask approval for';
  const got = approversOf(ap, round.n).length;
  const waiting = undecided(spec, ap, round.n);
  return `waiting for approval (${got} of ${spec.minApprovals}) by ${waiting.join(', ') || 'nobody left'} until ${round.expiresAt}`;
}

/** The plan was read: open the first round, or confirm (or re-ask) after enough approvals. */
export function applyApprovalPlan(
  ctx: Ctx,
  a: ActionState,
  o: Extract<Observation, { kind: 'approvalPlanResolved' }>,
): void {
  const spec = a.spec;
  const ap = a.approval;
  if (spec.type !== 'approval' || !ap) return;
  if (a.status === 'resolving') {
    a.awaiting = false;
    openRound(ctx, a, spec, o);
    return;
  }
  if (a.status !== 'waiting' || !ap.verifying) return;
  a.awaiting = false;
  ap.verifying = false;
  const round = currentRound(ap);
  if (round && round.fingerprint === o.fingerprint) {
    approve(ctx, a, round);
    return;
  }
  openRound(
    ctx,
    a,
    spec,
    o,
    `the plan changed after it was approved: ${planDiff(round?.items ?? [], o.items)}`,
  );
}

/** Approved: the covered deploys deploy exactly the approved releases, whatever is newer by then. */
function approve(ctx: Ctx, a: ActionState, round: ApprovalRound): void {
  const ap = a.approval;
  if (!ap) return;
  const names = approversOf(ap, round.n).map(decisionText).join(', ');
  for (const item of round.items) {
    for (const stage of ctx.s.stages) {
      for (const x of stage.actions) {
        if (x.id !== item.actionId || x.status !== 'pending' || x.spec.type !== 'deploy') continue;
        x.spec = {
          ...x.spec,
          release: {
            releaseId: item.releaseId,
            version: item.version,
            why: `${item.why}; approved by ${names}`,
            ...(item.train ? { train: item.train } : {}),
          },
        };
      }
    }
  }
  resumeRunDeadline(ctx, a);
  setStatus(ctx, a, 'succeeded', `approved by ${names} (round ${round.n})`);
}

/** A waiting approval: send its emails, count decisions, confirm the plan when enough approved. */
export function progressApproval(ctx: Ctx, a: ActionState): void {
  const { s, now } = ctx;
  const spec = a.spec;
  const ap = a.approval;
  const round = currentRound(ap);
  if (spec.type !== 'approval' || !ap || !round) return;
  const lease = leaseId(s);
  for (const m of round.mails) {
    if (m.status === 'sending' && m.issuedUnder !== lease) {
      // There is no asking the mail service whether it went out: never send twice.
      m.status = 'unknown';
      note(
        ctx,
        `${a.id}: the coordinator stopped while emailing ${m.to}; the email may not have been sent and is not sent again (decide with POST /api/runs/${s.id}/approve or /reject).`,
      );
    }
    if (m.status === 'pending' && due(m.retryAt, now)) {
      m.status = 'sending';
      m.issuedUnder = lease;
      m.retryAt = undefined;
      ctx.cmds.push({
        kind: 'sendApprovalMail',
        actionId: a.id,
        round: round.n,
        to: m.to,
        fingerprint: round.fingerprint,
        expiresAt: round.expiresAt,
      });
    }
  }
  const rejected = rejectionOf(ap, round.n);
  if (rejected) {
    resumeRunDeadline(ctx, a);
    setStatus(ctx, a, 'failed', `rejected by ${decisionText(rejected)} (round ${round.n})`);
    return;
  }
  if (!ap.verifying && approversOf(ap, round.n).length >= spec.minApprovals) {
    ap.verifying = true;
    note(
      ctx,
      `${a.id}: approved by ${approversOf(ap, round.n).map(decisionText).join(', ')}; reading the plan again to confirm it is the one approved.`,
    );
    issue(ctx, a, approvalPlanCommand(s, a));
    return;
  }
  if (ap.verifying) {
    const lost = a.awaiting === true && a.issuedUnder !== lease;
    if (lost || (a.awaiting !== true && due(a.retryAt, now)))
      issue(ctx, a, approvalPlanCommand(s, a));
    return;
  }
  a.note = waitingNote(spec, ap);
}

/** The approval's deadline passed without a decision. */
export function approvalTimedOut(ctx: Ctx, a: ActionState): void {
  const spec = a.spec;
  const ap = a.approval;
  if (spec.type !== 'approval') return;
  const round = currentRound(ap);
  const got = ap && round ? approversOf(ap, round.n).length : 0;
  resumeRunDeadline(ctx, a);
  setStatus(
    ctx,
    a,
    'timedOut',
    `no decision within ${spec.timeoutMinutes} minutes (${got} of ${spec.minApprovals} approval(s); ${spec.approvers.join(', ')} asked)`,
  );
}

export function applyApprovalMailSent(
  ctx: Ctx,
  a: ActionState,
  o: Extract<Observation, { kind: 'approvalMailSent' }>,
): void {
  const mail = a.approval?.rounds.find((r) => r.n === o.round)?.mails.find((m) => m.to === o.to);
  if (!mail || mail.status !== 'sending') return;
  mail.status = 'sent';
  mail.issuedUnder = undefined;
  note(ctx, `${a.id}: asked ${o.to} for approval by email (round ${o.round}).`);
}

export function approvalMailFailed(
  ctx: Ctx,
  command: Extract<Command, { kind: 'sendApprovalMail' }>,
  message: string,
  retryable: boolean,
): void {
  const a = ctx.s.stages.flatMap((st) => st.actions).find((x) => x.id === command.actionId);
  const mail = a?.approval?.rounds
    .find((r) => r.n === command.round)
    ?.mails.find((m) => m.to === command.to);
  if (!a || !mail || mail.status !== 'sending') return;
  mail.failures = (mail.failures ?? 0) + 1;
  mail.error = message;
  mail.issuedUnder = undefined;
  if (retryable && mail.failures < approvalMailAttempts) {
    mail.status = 'pending';
    mail.retryAt = addMs(ctx.now, backoffMs(mail.failures));
    return;
  }
  mail.status = 'failed';
  note(
    ctx,
    `${a.id}: could not email ${command.to} for approval (${message}); they can still decide with POST /api/runs/${ctx.s.id}/approve or /reject.`,
  );
}

/** Times an approval needs an advance at (a mail to try again). */
export function approvalDueTimes(a: ActionState): (string | undefined)[] {
  return currentRound(a.approval)?.mails.map((m) => m.retryAt) ?? [];
}
