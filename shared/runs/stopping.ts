// Stopping a run: a failed stage, the run's timeout or a cancel stop new work, cancel the Octopus tasks it started, then hand over to onFailure.
import { progressAction } from './actionProgress.js';
import { beginOnFailure } from './onFailure.js';
import {
  describe,
  due,
  iso,
  leaseId,
  note,
  requestTaskCancel,
  setStatus,
  type Ctx,
} from './stepContext.js';
import {
  isFailedAction,
  isFinishedAction,
  isTerminalRunStatus,
  type ActionState,
  type Superseding,
} from './types.js';

/**
 * Octopus superseded one of the run's deployments with a newer one of another release: the run stops
 * starting work (what runs is left to finish, nothing is cancelled), skips its later stages and ends
 * cancelled without onFailure (rolling back would undo the newer deployment).
 */
export function stopForSuperseded(
  ctx: Ctx,
  a: ActionState,
  by: Superseding,
  message: string,
): void {
  const { s, now } = ctx;
  if (isTerminalRunStatus(s.status) || s.superseded) return;
  s.superseded = { actionId: a.id, by, message };
  if (s.status !== 'running') return; // already failing, cancelling or rolling back: that path goes on
  s.cancel = { requestedAt: iso(now), by: 'Octopus', reason: `${a.id}: ${message}` };
  note(ctx, `Stopping: ${a.id}: ${message}. Starting no more work; waiting for what runs.`);
  s.status = 'cancelling';
  const stage = s.stages[s.stageIndex];
  for (const other of stage?.actions ?? [])
    if (other.status === 'pending' || other.status === 'resolving' || other.status === 'waiting')
      setStatus(ctx, other, 'cancelled', `stopped: ${a.id} was superseded in Octopus`);
}

export function applyCancel(ctx: Ctx, by: string | undefined, reason: string | undefined): void {
  const { s, now } = ctx;
  if (isTerminalRunStatus(s.status) || s.status === 'rollingBack' || s.cancel) return;
  s.cancel = { requestedAt: iso(now), by, reason };
  note(ctx, `Cancel requested${by ? ` by ${by}` : ''}${reason ? `: ${reason}` : ''}.`);
  stopActiveWork(ctx, 'the run was cancelled');
  s.status = 'cancelling';
}

/** Stop what runs: cancel the Octopus tasks the run started, stop following the rest. */
function stopActiveWork(ctx: Ctx, why: string): void {
  const stage = ctx.s.stages[ctx.s.stageIndex];
  if (!stage) return;
  for (const a of stage.actions) {
    switch (a.status) {
      case 'running':
        if (a.joined)
          setStatus(
            ctx,
            a,
            'cancelled',
            `stopped following it (${why}); it was not started by this run, so it was not cancelled`,
          );
        else requestTaskCancel(ctx, a, why);
        break;
      case 'pending':
      case 'resolving':
      case 'waiting':
        setStatus(ctx, a, 'cancelled', why);
        break;
      default:
        break; // 'starting': its outcome is awaited, then cancelled if it started
    }
  }
}

export function runTimedOut(ctx: Ctx): boolean {
  const { s, now } = ctx;
  if ((s.status !== 'running' && s.status !== 'failing') || s.timedOut || !due(s.deadline, now))
    return false;
  // A deployment waits for someone in Octopus: not stuck, so the run's timeout waits too.
  if (s.pausedSince) return false;
  s.timedOut = true;
  s.failure ??= { message: `the run did not finish within ${s.plan.timeoutMinutes} minutes` };
  note(ctx, `Run timed out after ${s.plan.timeoutMinutes} minutes.`);
  stopActiveWork(ctx, 'the run timed out');
  s.status = 'failing';
  return true;
}

/** When an action of the current stage failed: record why, and stop starting work. */
export function stageFailure(ctx: Ctx): void {
  const { s } = ctx;
  const stage = s.stages[s.stageIndex];
  const failed = stage?.actions.find((a) => isFailedAction(a.status));
  if (!stage || !failed || s.failure) return;
  s.failure = {
    stage: stage.name,
    actionId: failed.id,
    message: `${failed.id} (${describe(failed)}): ${failed.error ?? failed.status}`,
  };
  note(
    ctx,
    `Stage "${stage.name}" failed: ${s.failure.message}. Starting no more work; waiting for what runs.`,
  );
  s.status = 'failing';
  for (const a of stage.actions)
    if (a.status === 'resolving' || a.status === 'waiting')
      setStatus(ctx, a, 'cancelled', `stopped: ${failed.id} failed`);
}

/** A failing or cancelling run: wait for what still runs, skip the later stages, then onFailure. */
export function stepStopping(ctx: Ctx): void {
  const { s, now } = ctx;
  const stage = s.stages[s.stageIndex];
  for (const a of stage?.actions ?? []) progressAction(ctx, a);
  if (stage && !stage.actions.every((a) => isFinishedAction(a.status))) return;
  if (stage) {
    stage.status = s.status === 'cancelling' ? 'cancelled' : 'failed';
    stage.finishedAt = iso(now);
  }
  for (const later of s.stages.slice(s.stageIndex + 1)) {
    later.status = 'skipped';
    for (const a of later.actions) a.status = 'skipped';
  }
  beginOnFailure(ctx);
}

/** Ask Octopus to cancel the tasks the run wants stopped (again after a retryable failure). */
export function stepCancels(ctx: Ctx): void {
  const { s, now } = ctx;
  if (s.pendingCancels.length === 0) return;
  const inFlight = s.cancelAwaiting === true && s.cancelIssuedUnder === leaseId(s);
  if (inFlight || !due(s.cancelRetryAt, now)) return;
  s.cancelAwaiting = true;
  s.cancelIssuedUnder = leaseId(s);
  s.cancelRetryAt = undefined;
  for (const taskId of s.pendingCancels) ctx.cmds.push({ kind: 'cancelTask', taskId });
}
