// The run engine's pure decision step: (run state, observations, now) -> (new state, commands). No I/O here.
//
// The step is spread over small modules, each one part of a run's life: stages.ts (stage progression),
// actionProgress.ts and actionCommands.ts (starting and moving actions, the commands they issue),
// deployDecision.ts (deploy, join, skip or refuse), observations.ts and commandFailures.ts (what came
// back), stopping.ts (failure, timeout, cancel), onFailure.ts (rollback), finish.ts (the end and its email).
import { stepClaims } from './claims.js';
import { finish, stepFinishedMail } from './finish.js';
import { applyObservation } from './observations.js';
import { stepOnFailure } from './onFailure.js';
import { stepStages } from './stages.js';
import { allActions, due, iso, leaseId, type Ctx } from './stepContext.js';
import { applyCancel, runTimedOut, stepCancels, stepStopping } from './stopping.js';
import { isTerminalRunStatus, type Decision, type Observation, type RunState } from './types.js';

export { runStory } from './actionCommands.js';
export { deployDecision, isFixedRelease } from './deployDecision.js';
export { newRunState } from './newRun.js';
export { conditionRecheckMs } from './observations.js';
export { parseRunMarker, runMarker } from './runMarker.js';

/** Before the first stage: read the releases current in every cell the run may change or put back. */
function stepCapture(ctx: Ctx): void {
  const { s, now } = ctx;
  if (s.cancel || s.status === 'cancelling') {
    finish(ctx, 'cancelled');
    stepFinishedMail(ctx);
    return;
  }
  if (due(s.deadline, now)) {
    s.failure = {
      message: `could not read the releases current before the run within ${s.plan.timeoutMinutes} minutes: ${s.previous.error ?? 'no answer'}`,
    };
    finish(ctx, 'failed');
    stepFinishedMail(ctx);
    return;
  }
  const inFlight = s.previous.awaiting === true && s.previous.issuedUnder === leaseId(s);
  if (!inFlight && due(s.previous.retryAt, now)) {
    s.previous.awaiting = true;
    s.previous.issuedUnder = leaseId(s);
    s.previous.retryAt = undefined;
    ctx.cmds.push({
      kind: 'capturePrevious',
      cells: s.previous.cells.map(({ project, environment, tenant }) => ({
        project,
        environment,
        tenant,
      })),
    });
  }
}

function stepRun(ctx: Ctx): void {
  const { s } = ctx;
  if (isTerminalRunStatus(s.status)) {
    stepFinishedMail(ctx);
    return;
  }
  // Waiting for its turn in its concurrency group (advance.ts asks for it): nothing to do yet.
  if (s.status === 'queued') return;
  if (!s.previous.captured) {
    stepCapture(ctx);
    return;
  }
  runTimedOut(ctx);
  if (s.status === 'running') stepStages(ctx);
  if (s.status === 'failing' || s.status === 'cancelling') stepStopping(ctx);
  if (s.status === 'rollingBack') stepOnFailure(ctx);
  stepCancels(ctx);
  if (isTerminalRunStatus(s.status)) stepFinishedMail(ctx);
}

/**
 * The decision step. Applies what was observed, then moves the run as far as it can without I/O,
 * returning the commands the executor must perform. Deterministic: same input, same output.
 */
export function decide(state: RunState, observations: readonly Observation[], now: Date): Decision {
  const s = structuredClone(state);
  const ctx: Ctx = { s, now, cmds: [] };
  if (s.cancelRequest && !s.cancel) applyCancel(ctx, s.cancelRequest.by, s.cancelRequest.reason);
  for (const o of observations) applyObservation(ctx, o);
  stepRun(ctx);
  stepClaims(ctx);
  if (JSON.stringify(s) !== JSON.stringify(state)) s.updatedAt = iso(now);
  return { state: s, commands: ctx.cmds };
}

/** Task ids whose state the run is waiting on (to poll them, and to route webhook events). */
export function watchedTaskIds(s: RunState): string[] {
  const ids = new Set<string>(s.pendingCancels);
  for (const a of allActions(s)) if (a.taskId && a.status === 'running') ids.add(a.taskId);
  return [...ids];
}
