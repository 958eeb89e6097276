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
  // Superseded in Octopus: a rollback would undo the newer deployment, so onFailure never runs.
  const wanted =
    s.onFailure.steps.length > 0 && !s.superseded && (!cancelled || s.plan.onFailureWhenCancelled);
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
  const waves = rollbackWaves(
    s,
    cells.map((c) => c.project),
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
    action.wave = waves.get(c.project) ?? 0;
    if (!previous) {
      action.status = 'skipped';
      action.note =
        'nothing had been deployed there successfully before the run, so there is nothing to put back';
    }
    return action;
  });
}

/**
 * The wave of each project's rollback: by default the reverse of the order the run deployed them (its
 * stages, then the config's dependsOn), so Web App is put back before Web API, and Web API before
 * Database; with `rollbackOrder: "parallel"` all at once.
 */
function rollbackWaves(s: RunState, projects: string[]): Map<string, number> {
  const waves = new Map<string, number>();
  if (s.plan.rollbackOrder === 'parallel') return waves;
  const stageOf = (project: string): number => {
    const i = s.plan.stages.findIndex((st) =>
      st.actions.some((a) => a.type === 'deploy' && a.project === project),
    );
    return i < 0 ? 0 : i;
  };
  const depth = (project: string): number => s.plan.dependencyDepth?.[project] ?? 0;
  const rank = (project: string): number => stageOf(project) * 1000 + depth(project);
  // Highest rank first: wave 0 is the project deployed last.
  const ranks = [...new Set(projects.map(rank))].sort((a, b) => b - a);
  for (const project of projects) waves.set(project, ranks.indexOf(rank(project)));
  return waves;
}

/** Start the pending actions of the lowest wave that has not finished. */
function startNextWave(ctx: Ctx, actions: ActionState[]): void {
  const open = actions.filter((a) => !isFinishedAction(a.status));
  if (open.length === 0) return;
  const wave = Math.min(...open.map((a) => a.wave ?? 0));
  for (const a of open) if (a.status === 'pending' && (a.wave ?? 0) === wave) startAction(ctx, a);
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
    }
    startNextWave(ctx, step.actions);
    for (const a of step.actions) progressAction(ctx, a);
    startNextWave(ctx, step.actions);
    if (!step.actions.every((a) => isFinishedAction(a.status))) return;
    step.status = step.actions.some((a) => isFailedAction(a.status)) ? 'failed' : 'succeeded';
    s.onFailure.stepIndex += 1;
  }
}
