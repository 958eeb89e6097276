// The commands an action hands to the executor (each built in one place, whether first issued or re-issued), and the texts they carry.
import { approvalPlanCommand } from './approval.js';
import { fillJson, fillText, runValues } from './placeholders.js';
import { runMarker } from './runMarker.js';
import { describe } from './stepContext.js';
import type { ActionState, Command, DeployResolution, PlanRunbook, RunState } from './types.js';

/** The read that answers a resolving deploy or check, or a wait on a condition (safe to repeat). */
export function readCommand(s: RunState, a: ActionState): Command | undefined {
  const spec = a.spec;
  if (spec.type === 'deploy') return { kind: 'resolveDeploy', actionId: a.id, spec };
  if (spec.type === 'approval') return approvalPlanCommand(s, a);
  if ((spec.type === 'check' || spec.type === 'wait') && spec.condition !== undefined) {
    return {
      kind: 'evaluateCondition',
      actionId: a.id,
      condition: spec.condition,
      environment: s.plan.environment,
      tenant: s.plan.tenant,
    };
  }
  return undefined;
}

export function createDeploymentCommand(
  s: RunState,
  a: ActionState,
  attempt: number,
  recover: boolean,
  resolution: DeployResolution,
): Command {
  const marker = runMarker(s.id, a.id, attempt);
  const priority = a.spec.type === 'deploy' && a.spec.rollback;
  return {
    kind: 'createDeployment',
    actionId: a.id,
    attempt,
    marker,
    recover,
    resolution,
    ...(priority ? { priority: true } : {}),
  };
}

export function runRunbookCommand(
  s: RunState,
  a: ActionState,
  spec: PlanRunbook,
  attempt: number,
  recover: boolean,
): Command {
  const marker = runMarker(s.id, a.id, attempt);
  return { kind: 'runRunbook', actionId: a.id, attempt, marker, recover, spec };
}

export function notifyCommand(
  s: RunState,
  actionId: string,
  to: string[],
  subject: string,
  body: string | undefined,
): Command {
  const values = runValues(s);
  const text = body ? `${fillText(body, values)}\n\n${runStory(s)}` : runStory(s);
  return { kind: 'sendMail', actionId, to, subject: fillText(subject, values), text };
}

/** A webhook body with the run's placeholders filled in, at any depth. */
export function renderBody(body: unknown, s: RunState): unknown {
  return fillJson(body, runValues(s));
}

/** A short story of the run so far, for notify emails (the finished email has its own, longer one). */
export function runStory(s: RunState): string {
  const lines = [`Run ${s.id} of ${s.plan.kind} "${s.plan.name}": ${s.status}.`];
  for (const stage of s.stages) {
    lines.push(`Stage "${stage.name}": ${stage.status}`);
    for (const a of stage.actions) {
      const release = a.resolution ? ` ${a.resolution.release.version}` : '';
      lines.push(
        `  - ${describe(a)}${release}: ${a.status}${a.error ? ` (${a.error})` : a.note ? ` (${a.note})` : ''}`,
      );
    }
  }
  return lines.join('\n');
}
