// What one decision step works on (the run state being changed, the time, the commands issued) and the small moves every part of decide() makes.
import {
  isFailedAction,
  isFinishedAction,
  type ActionState,
  type Command,
  type Intent,
  type RunState,
} from './types.js';

/** The state of one decide() call: `s` is a private copy, changed in place. */
export type Ctx = { s: RunState; now: Date; cmds: Command[] };

const historyLimit = 100;

export const iso = (d: Date): string => d.toISOString();
export const addMs = (d: Date, ms: number): string => new Date(d.getTime() + ms).toISOString();
export const due = (at: string | undefined, now: Date): boolean =>
  at === undefined || Date.parse(at) <= now.getTime();
export const backoffMs = (failures: number): number =>
  Math.min(5 * 60_000, 15_000 * 2 ** Math.max(0, failures - 1));

export function note(ctx: Ctx, message: string): void {
  ctx.s.history.push({ at: iso(ctx.now), message });
  if (ctx.s.history.length > historyLimit)
    ctx.s.history.splice(0, ctx.s.history.length - historyLimit);
}

export function leaseId(s: RunState): string {
  return s.lease?.id ?? 'none';
}

export function allActions(s: RunState): ActionState[] {
  return [
    ...s.stages.flatMap((st) => st.actions),
    ...s.onFailure.steps.flatMap((st) => st.actions),
  ];
}

export function describe(a: ActionState): string {
  const spec = a.spec;
  switch (spec.type) {
    case 'deploy':
      return `deploy ${spec.project} to ${spec.environment}${spec.tenant ? ` for ${spec.tenant}` : ''}`;
    case 'runbook':
      return `runbook ${spec.runbook} of ${spec.project} in ${spec.environment}${spec.tenant ? ` for ${spec.tenant}` : ''}`;
    case 'approval':
      return `approval by ${spec.minApprovals} of ${spec.approvers.join(', ')}`;
    default:
      return `${spec.type} ${a.id}`;
  }
}

export function setStatus(
  ctx: Ctx,
  a: ActionState,
  status: ActionState['status'],
  message?: string,
): void {
  a.status = status;
  a.awaiting = false;
  if (isFinishedAction(status)) {
    a.finishedAt = iso(ctx.now);
    a.intent = undefined;
  }
  if (message !== undefined) {
    if (isFailedAction(status)) a.error = message;
    else a.note = message;
  }
  note(ctx, `${a.id} (${describe(a)}): ${status}${message ? ` — ${message}` : ''}`);
}

/** Hand a command to the executor on behalf of an action, which then awaits its observation. */
export function issue(ctx: Ctx, a: ActionState, command: Command): void {
  a.awaiting = true;
  a.issuedUnder = leaseId(ctx.s);
  a.retryAt = undefined;
  ctx.cmds.push(command);
}

export function recordIntent(ctx: Ctx, a: ActionState, kind: Intent['kind']): Intent {
  a.attempt += 1;
  a.intent = { kind, attempt: a.attempt, recordedAt: iso(ctx.now), leaseId: leaseId(ctx.s) };
  return a.intent;
}

/** Whether a run in this status may start new work (deployments, runbooks, emails). */
export function mayStartWork(s: RunState): boolean {
  return s.status === 'running' || s.status === 'rollingBack';
}

export function requestTaskCancel(ctx: Ctx, a: ActionState, why: string): void {
  if (!a.taskId || a.joined) return;
  if (!ctx.s.pendingCancels.includes(a.taskId)) ctx.s.pendingCancels.push(a.taskId);
  a.cancelRequested = true;
  note(ctx, `Cancelling Octopus task ${a.taskId} of ${a.id}: ${why}.`);
}
