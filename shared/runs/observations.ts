// Applying what the executor, a poll or a webhook saw to the run: resolved deploys, started and finished tasks, conditions, sent mail.
import { isFinishedTaskState } from '../octopus/enums.js';
import { createDeploymentCommand } from './actionCommands.js';
import { applyApprovalMailSent, applyApprovalPlan } from './approval.js';
import { applyClaimWaiting, deployClaimLock } from './claims.js';
import { applyFailure } from './commandFailures.js';
import { deployDecision } from './deployDecision.js';
import { cellKey } from './plan.js';
import {
  addMs,
  allActions,
  iso,
  issue,
  mayStartWork,
  note,
  recordIntent,
  requestTaskCancel,
  setStatus,
  type Ctx,
} from './stepContext.js';
import { applyCancel, stopForSuperseded } from './stopping.js';
import type { ActionState, Observation } from './types.js';

/** What a paused deployment shows, for people. */
export function waitingText(
  types: readonly string[] | undefined,
  link: string | undefined,
): string {
  const what =
    types && types.length > 0
      ? types.map((t) => t.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()).join(', ')
      : 'a manual intervention or guided failure';
  return `waiting for someone in Octopus (${what})${link ? `: ${link}` : ''}`;
}

/** A paused task's time does not count: the deadline moves by how long it was paused. */
function resumeDeadline(
  deadline: string | undefined,
  since: string,
  now: Date,
): string | undefined {
  if (deadline === undefined) return undefined;
  const paused = Math.max(0, now.getTime() - Date.parse(since));
  return new Date(Date.parse(deadline) + paused).toISOString();
}

/** How often a wait re-checks its condition. */
export const conditionRecheckMs = 30_000;
/** How often a deploy held back by a freeze reads its target (and the freezes) again. */
export const freezeRecheckMs = 30_000;

/**
 * A freeze covers the deploy's target: fail the action (the plan's `onFreeze: "fail"`), or wait and
 * say why, giving back its claim, and read again shortly; nothing was created.
 */
function applyFrozen(ctx: Ctx, a: ActionState, why: string): void {
  const { s, now } = ctx;
  if (s.plan.onFreeze === 'fail') {
    a.frozen = undefined;
    setStatus(ctx, a, 'failed', `frozen: ${why}`);
    return;
  }
  const changed = a.frozen?.why !== why;
  a.frozen = { since: a.frozen?.since ?? iso(now), why };
  a.status = 'resolving';
  a.awaiting = false;
  a.retryAt = addMs(now, freezeRecheckMs);
  a.note = `waiting: ${why}; it deploys when the freeze ends (checked every ${freezeRecheckMs / 1000} s)`;
  if (changed) note(ctx, `${a.id}: ${a.note}.`);
}

/** A deploy's target was read: decide whether to deploy, join, skip or refuse, and act on it. */
function applyDeployResolved(
  ctx: Ctx,
  a: ActionState,
  o: Extract<Observation, { kind: 'deployResolved' }>,
): void {
  const { s } = ctx;
  if (a.status !== 'resolving' || a.spec.type !== 'deploy') return;
  a.awaiting = false;
  a.resolution = o.resolution;
  const decision = deployDecision(a.spec, o.resolution);
  a.decision = decision;
  if (!mayStartWork(s)) {
    setStatus(ctx, a, 'cancelled', `not started: the run is ${s.status}`);
    return;
  }
  switch (decision.kind) {
    case 'skip':
      setStatus(ctx, a, 'skipped', decision.why);
      return;
    case 'refuse':
      setStatus(ctx, a, 'failed', `refused: ${decision.why}`);
      return;
    case 'frozen':
      applyFrozen(ctx, a, decision.why);
      return;
    case 'join':
      a.status = 'running';
      a.joined = true;
      a.deploymentId = decision.deploymentId;
      a.taskId = decision.taskId;
      note(ctx, `${a.id}: ${decision.why}.`);
      return;
    case 'deploy': {
      if (a.frozen) {
        note(ctx, `${a.id}: no freeze covers ${a.spec.environment} any more; deploying.`);
        a.frozen = undefined;
      }
      if (a.claim?.releaseIssuedUnder !== undefined) {
        // The claim given back during a freeze is still being released: claim again after that.
        a.retryAt = addMs(ctx.now, freezeRecheckMs / 6);
        return;
      }
      if (!a.claim?.leaseId) {
        // Claim the target first; the executor reads it again under the claim (see claims.ts). The
        // claim is noted before it is asked for: if this instance dies before the answer is
        // recorded, whoever carries on gives back what the claim may have been granted.
        a.claim ??= { lock: deployClaimLock(o.resolution) };
        issue(ctx, a, {
          kind: 'claimDeploy',
          actionId: a.id,
          spec: a.spec,
          resolution: o.resolution,
        });
        return;
      }
      a.status = 'starting';
      const intent = recordIntent(ctx, a, 'createDeployment');
      note(ctx, `${a.id}: ${decision.why} (${o.resolution.why}).`);
      issue(ctx, a, createDeploymentCommand(s, a, intent.attempt, false, o.resolution));
      return;
    }
  }
}

function applyTask(ctx: Ctx, o: Extract<Observation, { kind: 'task' }>): void {
  const { s, now } = ctx;
  if (s.pendingCancels.includes(o.taskId) && isFinishedTaskState(o.state)) {
    s.pendingCancels = s.pendingCancels.filter((t) => t !== o.taskId);
  }
  for (const a of allActions(s)) {
    if (a.taskId !== o.taskId) continue;
    if (o.link) a.taskLink = o.link;
    if (a.status !== 'running') {
      a.taskState = o.state;
      continue;
    }
    if (a.taskState !== o.state) a.taskState = o.state;
    const paused = o.hasPendingInterruptions === true && !isFinishedTaskState(o.state);
    if (paused && !a.pausedSince) {
      a.pausedSince = iso(now);
      a.note = waitingText(o.pendingInterruptionTypes, a.taskLink);
      note(ctx, `${a.id}: ${a.note}; its timeout waits meanwhile.`);
      continue;
    }
    if (a.pausedSince && !paused) {
      a.deadline = resumeDeadline(a.deadline, a.pausedSince, now);
      note(ctx, `${a.id}: answered in Octopus; going on.`);
      a.pausedSince = undefined;
      a.note = undefined;
    }
    if (paused) {
      a.note = waitingText(o.pendingInterruptionTypes, a.taskLink);
      continue;
    }
    if (o.state === 'Success') setStatus(ctx, a, 'succeeded');
    else if (o.state === 'Canceled' && !a.cancelRequested && o.superseded) {
      const by = o.superseded;
      const release = by.version ? `release ${by.version}` : by.releaseId;
      const who = by.byRun ? ` by run ${by.byRun}` : '';
      if (a.spec.type === 'deploy' && a.resolution?.release.releaseId === by.releaseId) {
        // The same release goes out in the newer deployment: follow it instead.
        note(
          ctx,
          `${a.id}: Octopus superseded ${a.deploymentId ?? a.taskId} with ${by.deploymentId} (the same ${release}${who}); following it.`,
        );
        a.supersededTaskId = a.taskId;
        a.deploymentId = by.deploymentId;
        a.taskId = by.taskId;
        a.taskState = undefined;
        a.taskLink = undefined;
        a.joined = true;
        a.note = `superseded in Octopus by ${by.deploymentId} of the same release; following it`;
      } else {
        const message = `Octopus superseded ${a.deploymentId ?? a.taskId} with a newer deployment to the same target, ${by.deploymentId} (${release}${who}); not a failure, so no rollback`;
        setStatus(ctx, a, 'cancelled', message);
        stopForSuperseded(ctx, a, by, message);
      }
    } else if (o.state === 'Canceled')
      setStatus(
        ctx,
        a,
        a.cancelRequested ? 'cancelled' : 'failed',
        a.cancelRequested ? 'cancelled by the run' : 'the task was cancelled in Octopus',
      );
    else if (o.state === 'Failed' || o.state === 'TimedOut')
      setStatus(
        ctx,
        a,
        'failed',
        o.errorMessage ? o.errorMessage : `the Octopus task ended ${o.state}`,
      );
    else a.note = undefined;
  }
  // The run's timeout waits while any of its deployments waits for someone in Octopus.
  const anyPaused = allActions(s).some((a) => a.status === 'running' && a.pausedSince);
  if (anyPaused && !s.pausedSince) s.pausedSince = iso(now);
  else if (!anyPaused && s.pausedSince) {
    s.deadline = resumeDeadline(s.deadline, s.pausedSince, now) ?? s.deadline;
    s.pausedSince = undefined;
  }
}

export function applyObservation(ctx: Ctx, o: Observation): void {
  const { s, now } = ctx;
  const byId = (id: string) => allActions(s).find((a) => a.id === id);
  switch (o.kind) {
    case 'previousCaptured': {
      const found = new Map(o.cells.map((c) => [cellKey(c), c]));
      s.previous.cells = s.previous.cells.map((c) => found.get(cellKey(c)) ?? c);
      s.previous.captured = true;
      s.previous.awaiting = false;
      const told = s.previous.cells.map(
        (c) =>
          `${c.project} in ${c.environment}${c.tenant ? ` for ${c.tenant}` : ''}: ${c.lastSuccessful?.version ?? 'nothing'}`,
      );
      note(ctx, `Releases before the run: ${told.join('; ') || 'none to capture'}.`);
      return;
    }
    case 'deployResolved': {
      const a = byId(o.actionId);
      if (a) applyDeployResolved(ctx, a, o);
      return;
    }
    case 'deploymentStarted':
    case 'runbookStarted': {
      const a = byId(o.actionId);
      if (!a || a.status !== 'starting') return;
      a.status = 'running';
      a.awaiting = false;
      a.intent = undefined;
      a.taskId = o.taskId;
      if (o.kind === 'deploymentStarted') a.deploymentId = o.deploymentId;
      else a.runbookRunId = o.runbookRunId;
      note(
        ctx,
        `${a.id}: ${o.recovered ? 'found the one created before a restart' : 'started'} (${o.kind === 'deploymentStarted' ? o.deploymentId : o.runbookRunId}, task ${o.taskId}).`,
      );
      if ((s.status === 'cancelling' && !s.superseded) || s.timedOut)
        requestTaskCancel(ctx, a, s.timedOut ? 'the run timed out' : 'the run was cancelled');
      return;
    }
    case 'task':
      applyTask(ctx, o);
      return;
    case 'deployClaimed': {
      const a = byId(o.actionId);
      if (!a || a.status !== 'resolving') {
        // Not wanted any more (cancelled meanwhile): stepClaims gives it back.
        if (a) a.claim = { lock: o.lock, leaseId: o.leaseId };
        return;
      }
      a.claim = { lock: o.lock, leaseId: o.leaseId };
      applyDeployResolved(ctx, a, {
        kind: 'deployResolved',
        actionId: a.id,
        resolution: o.resolution,
      });
      return;
    }
    case 'deployClaimWaiting': {
      const a = byId(o.actionId);
      if (!a) return;
      applyClaimWaiting(ctx, a, o, (resolution) =>
        applyDeployResolved(ctx, a, { kind: 'deployResolved', actionId: a.id, resolution }),
      );
      return;
    }
    case 'deployFrozen': {
      const a = byId(o.actionId);
      if (!a || a.status !== 'starting') return;
      // The last check before the create found a freeze, so nothing was created under this intent.
      a.intent = undefined;
      applyFrozen(ctx, a, o.why);
      return;
    }
    case 'claimReleased': {
      const a = byId(o.actionId);
      if (a?.claim?.lock === o.lock) a.claim = undefined;
      return;
    }
    case 'taskCancelRequested':
      s.pendingCancels = s.pendingCancels.filter((t) => t !== o.taskId);
      return;
    case 'conditionEvaluated': {
      const a = byId(o.actionId);
      if (!a || (a.status !== 'resolving' && a.status !== 'waiting')) return;
      a.awaiting = false;
      const why = o.reasons.join('; ');
      if (o.ok) setStatus(ctx, a, 'succeeded', why || 'the condition holds');
      else if (a.spec.type === 'check') setStatus(ctx, a, 'failed', `condition not met: ${why}`);
      else {
        a.note = `waiting: ${why}`;
        a.nextCheckAt = addMs(now, conditionRecheckMs);
      }
      return;
    }
    case 'mailSent':
    case 'webhookCalled': {
      const a = byId(o.actionId);
      if (!a || a.status !== 'starting') return;
      setStatus(ctx, a, 'succeeded', o.kind === 'webhookCalled' ? `answered ${o.status}` : 'sent');
      return;
    }
    case 'finishedMailSent':
      s.finishedMail = { status: 'sent' };
      return;
    case 'cancelRequested':
      applyCancel(ctx, o.by, o.reason);
      return;
    case 'approvalPlanResolved': {
      const a = byId(o.actionId);
      if (a) applyApprovalPlan(ctx, a, o);
      return;
    }
    case 'approvalMailSent': {
      const a = byId(o.actionId);
      if (a) applyApprovalMailSent(ctx, a, o);
      return;
    }
    case 'commandFailed':
      applyFailure(ctx, o.command, o.message, o.retryable);
      return;
  }
}
