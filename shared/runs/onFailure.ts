// onFailure: after a failure (or a cancel, if the plan says so) run its entries in order; redeployPrevious puts back the releases captured at the start.
import { progressAction, startAction } from './actionProgress.js';
import { finish } from './finish.js';
import { note, type Ctx } from './stepContext.js';
import {
  isFailedAction,
  isFinishedAction,
  type ActionState,
  type CapturedCell,
  type OnFailureStep,
  type PlanDeploy,
  type PlanFailureAction,
  type RunState,
} from './types.js';

export function beginOnFailure(ctx: Ctx): void {
  const { s } = ctx;
  const cancelled = s.cancel !== undefined;
  const wanted = s.onFailure.steps.length > 0 && (!cancelled || s.plan.onFailureWhenCancelled);
  if (!wanted) {
    s.onFailure.status = 'skipped';
    finish(ctx, cancelled ? 'cancelled' : 'failed');
    return;
  }
  s.status = 'rollingBack';
  s.onFailure.status = 'running';
  note(ctx, 'Running onFailure.');
}

/** Expand an onFailure entry into actions; redeployPrevious becomes one rollback deploy per captured cell. */
function expandFailureEntry(s: RunState, entry: PlanFailureAction, index: number): ActionState[] {
  const base = `onFailure.${index + 1}`;
  const timeoutMinutes =
    'timeoutMinutes' in entry && entry.timeoutMinutes !== undefined
      ? entry.timeoutMinutes
      : s.plan.timeoutMinutes;
  const make = (id: string, spec: ActionState['spec']): ActionState => ({
    id,
    spec,
    status: 'pending',
    attempt: 0,
    failures: 0,
  });
  if (entry.type !== 'redeployPrevious') {
    const id = `${base}.${entry.id}`;
    return [
      make(
        id,
        entry.type === 'deploy' || entry.type === 'runbook' || entry.type === 'webhook'
          ? { ...entry, id, timeoutMinutes }
          : { ...entry, id },
      ),
    ];
  }
  const cells = s.previous.cells.filter(
    (c) =>
      entry.projects.includes(c.project) &&
      (entry.environment === undefined || c.environment === entry.environment),
  );
  return cells.map((c: CapturedCell) => {
    const id = `${base}.${c.project}@${c.environment}${c.tenant ? `@${c.tenant}` : ''}`.replace(
      /\s+/g,
      '_',
    );
    const previous = c.lastSuccessful;
    const spec: PlanDeploy = {
      type: 'deploy',
      id,
      project: c.project,
      environment: c.environment,
      tenant: c.tenant,
      release: previous
        ? {
            releaseId: previous.releaseId,
            version: previous.version,
            why: 'the release that was current and successful before the run started',
          }
        : 'latest',
      when: 'ifNotCurrent',
      allowDowngrade: true,
      rollback: true,
      timeoutMinutes,
    };
    const action = make(id, spec);
    if (!previous) {
      action.status = 'skipped';
      action.note =
        'nothing had been deployed there successfully before the run, so there is nothing to put back';
    }
    return action;
  });
}

export function stepOnFailure(ctx: Ctx): void {
  const { s } = ctx;
  for (let guard = 0; guard < s.onFailure.steps.length + 1; guard++) {
    const step: OnFailureStep | undefined = s.onFailure.steps[s.onFailure.stepIndex];
    if (!step) {
      s.onFailure.status = s.onFailure.steps.some((st) => st.status === 'failed')
        ? 'failed'
        : 'succeeded';
      finish(ctx, s.cancel ? 'cancelled' : 'failed');
      return;
    }
    if (step.status === 'pending') {
      step.status = 'running';
      step.actions = expandFailureEntry(s, step.entry, s.onFailure.stepIndex);
      for (const a of step.actions) if (a.status === 'pending') startAction(ctx, a);
    }
    for (const a of step.actions) progressAction(ctx, a);
    if (!step.actions.every((a) => isFinishedAction(a.status))) return;
    step.status = step.actions.some((a) => isFailedAction(a.status)) ? 'failed' : 'succeeded';
    s.onFailure.stepIndex += 1;
  }
}
