// The run engine's pure decision step: (run state, observations, now) -> (new state, commands). No I/O here.
import { parseCron } from '../config/coordination/common.js';
import { compareVersions } from '../conditions/versions.js';
import { cellKey, cellsToCapture } from './plan.js';
import {
  isChosenRelease,
  isFailedAction,
  isFinishedAction,
  isTerminalRunStatus,
  type ActionState,
  type CapturedCell,
  type Command,
  type Decision,
  type DeployDecision,
  type DeployResolution,
  type Intent,
  type Observation,
  type OnFailureStep,
  type PlanDeploy,
  type PlanFailureAction,
  type RunPlan,
  type RunState,
  type RunStatus,
  type RunTrigger,
} from './types.js';

const historyLimit = 100;
/** How often a wait re-checks its condition. */
export const conditionRecheckMs = 30_000;
/** A failed notify email is tried this many times before it is given up (it never fails the run). */
const mailAttempts = 3;

/** The marker stamped into the Comments of every deployment (and runbook run) a run creates. */
export function runMarker(runId: string, actionId: string, attempt: number): string {
  return `coordinator run=${runId} action=${actionId} attempt=${attempt}`;
}

/** Read a marker back from Comments (undefined when the text carries none). */
export function parseRunMarker(
  comments: string | null | undefined,
): { runId: string; actionId: string; attempt: number } | undefined {
  const m = /coordinator run=(\S+) action=(\S+) attempt=(\d+)/.exec(comments ?? '');
  return m && m[1] && m[2] ? { runId: m[1], actionId: m[2], attempt: Number(m[3]) } : undefined;
}

const iso = (d: Date): string => d.toISOString();
const addMs = (d: Date, ms: number): string => new Date(d.getTime() + ms).toISOString();
const due = (at: string | undefined, now: Date): boolean =>
  at === undefined || Date.parse(at) <= now.getTime();
const backoffMs = (failures: number): number =>
  Math.min(5 * 60_000, 15_000 * 2 ** Math.max(0, failures - 1));

export function newRunState(id: string, plan: RunPlan, trigger: RunTrigger, now: Date): RunState {
  return {
    schema: 1,
    id,
    plan,
    trigger,
    status: 'running',
    createdAt: iso(now),
    updatedAt: iso(now),
    deadline: addMs(now, plan.timeoutMinutes * 60_000),
    stageIndex: 0,
    stages: plan.stages.map((stage) => ({
      name: stage.name,
      status: 'pending',
      actions: stage.actions.map((spec) => ({
        id: spec.id,
        spec,
        status: 'pending',
        attempt: 0,
        failures: 0,
      })),
    })),
    previous: {
      captured: false,
      failures: 0,
      cells: cellsToCapture(plan).map((c) => ({ ...c })),
    },
    onFailure: {
      status: 'notRun',
      stepIndex: 0,
      steps: plan.onFailure.map((entry) => ({ entry, status: 'pending', actions: [] })),
    },
    pendingCancels: [],
    finishedMail: { status: 'none' },
    history: [
      {
        at: iso(now),
        message: `Run of ${plan.kind} "${plan.name}" created${trigger.by ? ` by ${trigger.by}` : ''}.`,
      },
    ],
  };
}

/** Whether and how a deploy action deploys, given what Octopus says about its target. Pure; dry runs use it too. */
export function deployDecision(spec: PlanDeploy, r: DeployResolution): DeployDecision {
  const target = r.release;
  const current = r.current;
  if (
    current &&
    (current.state === 'Queued' || current.state === 'Executing') &&
    current.releaseId === target.releaseId
  ) {
    return {
      kind: 'join',
      deploymentId: current.deploymentId,
      taskId: current.taskId,
      why: `a deployment of ${target.version} is already ${current.state.toLowerCase()} there (${current.deploymentId}); following it instead of starting another`,
    };
  }
  if (
    spec.when === 'ifNotCurrent' &&
    current?.releaseId === target.releaseId &&
    current.state === 'Success'
  ) {
    return { kind: 'skip', why: `${target.version} is already current and successful there` };
  }
  const baseline = r.lastSuccessful;
  if (
    spec.when === 'ifNewer' &&
    baseline &&
    compareVersions(target.version, baseline.version) <= 0
  ) {
    return {
      kind: 'skip',
      why: `${target.version} is not newer than ${baseline.version}, the current successful release there`,
    };
  }
  if (
    baseline &&
    compareVersions(target.version, baseline.version) < 0 &&
    !spec.allowDowngrade &&
    !spec.rollback
  ) {
    return {
      kind: 'refuse',
      why: `deploying ${target.version} would move ${spec.project} in ${spec.environment} back from ${baseline.version}; set "allowDowngrade": true on the action if that is intended`,
    };
  }
  const from = current
    ? `${current.version} (${current.state}) is current there`
    : 'nothing is deployed there yet';
  return { kind: 'deploy', why: `${from}; deploying ${target.version}` };
}

type Ctx = { s: RunState; now: Date; cmds: Command[] };

function note(ctx: Ctx, message: string): void {
  ctx.s.history.push({ at: iso(ctx.now), message });
  if (ctx.s.history.length > historyLimit)
    ctx.s.history.splice(0, ctx.s.history.length - historyLimit);
}

function leaseId(s: RunState): string {
  return s.lease?.id ?? 'none';
}

function allActions(s: RunState): ActionState[] {
  return [
    ...s.stages.flatMap((st) => st.actions),
    ...s.onFailure.steps.flatMap((st) => st.actions),
  ];
}

function describe(a: ActionState): string {
  const spec = a.spec;
  switch (spec.type) {
    case 'deploy':
      return `deploy ${spec.project} to ${spec.environment}${spec.tenant ? ` for ${spec.tenant}` : ''}`;
    case 'runbook':
      return `runbook ${spec.runbook} of ${spec.project} in ${spec.environment}${spec.tenant ? ` for ${spec.tenant}` : ''}`;
    default:
      return `${spec.type} ${a.id}`;
  }
}

function setStatus(
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

function issue(ctx: Ctx, a: ActionState, command: Command): void {
  a.awaiting = true;
  a.issuedUnder = leaseId(ctx.s);
  a.retryAt = undefined;
  ctx.cmds.push(command);
}

function recordIntent(ctx: Ctx, a: ActionState, kind: Intent['kind']): Intent {
  a.attempt += 1;
  a.intent = { kind, attempt: a.attempt, recordedAt: iso(ctx.now), leaseId: leaseId(ctx.s) };
  return a.intent;
}

/** Whether a run in this status may start new work (deployments, runbooks, emails). */
function mayStartWork(s: RunState): boolean {
  return s.status === 'running' || s.status === 'rollingBack';
}

function requestTaskCancel(ctx: Ctx, a: ActionState, why: string): void {
  if (!a.taskId || a.joined) return;
  if (!ctx.s.pendingCancels.includes(a.taskId)) ctx.s.pendingCancels.push(a.taskId);
  a.cancelRequested = true;
  note(ctx, `Cancelling Octopus task ${a.taskId} of ${a.id}: ${why}.`);
}

function untilTime(until: string, timeZone: string | undefined, from: Date): string {
  if (until.includes('T')) return new Date(until).toISOString();
  const [h = '0', m = '0', sec = '0'] = until.split(':');
  const next = parseCron(
    `${Number(sec)} ${Number(m)} ${Number(h)} * * *`,
    timeZone ?? 'UTC',
  ).nextRun(from);
  return (next ?? from).toISOString();
}

function renderText(template: string, s: RunState): string {
  return template
    .replaceAll('{{runId}}', s.id)
    .replaceAll('{{name}}', s.plan.name)
    .replaceAll('{{playbook}}', s.plan.name)
    .replaceAll('{{status}}', s.status)
    .replaceAll('{{environment}}', s.plan.environment ?? '');
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

function startAction(ctx: Ctx, a: ActionState): void {
  const { s, now } = ctx;
  const spec = a.spec;
  a.startedAt = iso(now);
  const timeout = 'timeoutMinutes' in spec ? spec.timeoutMinutes : undefined;
  if (timeout !== undefined) a.deadline = addMs(now, timeout * 60_000);
  switch (spec.type) {
    case 'deploy':
      a.status = 'resolving';
      issue(ctx, a, { kind: 'resolveDeploy', actionId: a.id, spec });
      return;
    case 'check':
      a.status = 'resolving';
      issue(ctx, a, {
        kind: 'evaluateCondition',
        actionId: a.id,
        condition: spec.condition,
        environment: s.plan.environment,
        tenant: s.plan.tenant,
      });
      return;
    case 'runbook': {
      a.status = 'starting';
      const intent = recordIntent(ctx, a, 'runRunbook');
      issue(ctx, a, {
        kind: 'runRunbook',
        actionId: a.id,
        attempt: intent.attempt,
        marker: runMarker(s.id, a.id, intent.attempt),
        recover: false,
        spec,
      });
      return;
    }
    case 'notify':
      a.status = 'starting';
      recordIntent(ctx, a, 'sendMail');
      issue(ctx, a, notifyCommand(s, a.id, spec.to, spec.subject, spec.body));
      return;
    case 'webhook':
      a.status = 'starting';
      recordIntent(ctx, a, 'callWebhook');
      issue(ctx, a, {
        kind: 'callWebhook',
        actionId: a.id,
        spec: { ...spec, body: renderBody(spec.body, s) },
      });
      return;
    case 'wait':
      a.status = 'waiting';
      if (spec.minutes !== undefined) a.waitUntil = addMs(now, spec.minutes * 60_000);
      else if (spec.until !== undefined) a.waitUntil = untilTime(spec.until, spec.timeZone, now);
      else a.nextCheckAt = iso(now);
      progressWait(ctx, a);
      return;
  }
}

function notifyCommand(
  s: RunState,
  actionId: string,
  to: string[],
  subject: string,
  body: string | undefined,
): Command {
  const text = body ? `${renderText(body, s)}\n\n${runStory(s)}` : runStory(s);
  return { kind: 'sendMail', actionId, to, subject: renderText(subject, s), text };
}

function renderBody(body: unknown, s: RunState): unknown {
  if (typeof body === 'string') return renderText(body, s);
  if (Array.isArray(body)) return body.map((b) => renderBody(b, s));
  if (body && typeof body === 'object') {
    return Object.fromEntries(Object.entries(body).map(([k, v]) => [k, renderBody(v, s)]));
  }
  return body;
}

function progressWait(ctx: Ctx, a: ActionState): void {
  const spec = a.spec;
  if (spec.type !== 'wait') return;
  if (a.waitUntil !== undefined) {
    if (due(a.waitUntil, ctx.now)) setStatus(ctx, a, 'succeeded', `waited until ${a.waitUntil}`);
    return;
  }
  if (spec.condition === undefined) return;
  const inFlight = a.awaiting === true && a.issuedUnder === leaseId(ctx.s);
  if (!inFlight && due(a.nextCheckAt, ctx.now) && due(a.retryAt, ctx.now)) {
    issue(ctx, a, {
      kind: 'evaluateCondition',
      actionId: a.id,
      condition: spec.condition,
      environment: ctx.s.plan.environment,
      tenant: ctx.s.plan.tenant,
    });
  }
}

/** Move one started action forward: timeouts, re-issuing lost or failed commands, recovery of intents. */
function progressAction(ctx: Ctx, a: ActionState): void {
  const { s, now } = ctx;
  if (a.status === 'pending' || isFinishedAction(a.status)) return;
  const lease = leaseId(s);

  if (a.deadline && due(a.deadline, now) && a.status !== 'starting') {
    const minutes = 'timeoutMinutes' in a.spec ? a.spec.timeoutMinutes : undefined;
    if (a.status === 'running') requestTaskCancel(ctx, a, 'the action timed out');
    setStatus(ctx, a, 'timedOut', `did not finish within ${minutes ?? '?'} minutes`);
    return;
  }

  switch (a.status) {
    case 'resolving': {
      if (!mayStartWork(s)) {
        setStatus(ctx, a, 'cancelled', `not started: the run is ${s.status}`);
        return;
      }
      const lost = a.awaiting === true && a.issuedUnder !== lease;
      if (lost || (a.awaiting !== true && due(a.retryAt, now))) {
        const spec = a.spec;
        if (spec.type === 'deploy') issue(ctx, a, { kind: 'resolveDeploy', actionId: a.id, spec });
        else if (spec.type === 'check') {
          issue(ctx, a, {
            kind: 'evaluateCondition',
            actionId: a.id,
            condition: spec.condition,
            environment: s.plan.environment,
            tenant: s.plan.tenant,
          });
        }
      }
      return;
    }
    case 'waiting':
      if (!mayStartWork(s)) {
        setStatus(ctx, a, 'cancelled', `stopped: the run is ${s.status}`);
        return;
      }
      progressWait(ctx, a);
      return;
    case 'starting': {
      const intent = a.intent;
      if (!intent) return;
      const crashed = a.awaiting === true && a.issuedUnder !== lease;
      const retry = a.awaiting !== true && intent.recover === true && due(a.retryAt, now);
      if (!crashed && !retry) return;
      recoverIntent(ctx, a, intent, crashed);
      return;
    }
    case 'running':
      return;
  }
}

/** An intent whose outcome is unknown (its advancer died) or that failed ambiguously. */
function recoverIntent(ctx: Ctx, a: ActionState, intent: Intent, crashed: boolean): void {
  const { s } = ctx;
  const spec = a.spec;
  intent.leaseId = leaseId(s);
  intent.recover = false;
  const marker = runMarker(s.id, a.id, intent.attempt);
  if (intent.kind === 'createDeployment' && a.resolution) {
    note(
      ctx,
      `${a.id}: checking Octopus for a deployment marked "${marker}" before deploying again.`,
    );
    issue(ctx, a, {
      kind: 'createDeployment',
      actionId: a.id,
      attempt: intent.attempt,
      marker,
      recover: true,
      resolution: a.resolution,
    });
  } else if (intent.kind === 'runRunbook' && spec.type === 'runbook') {
    issue(ctx, a, {
      kind: 'runRunbook',
      actionId: a.id,
      attempt: intent.attempt,
      marker,
      recover: true,
      spec,
    });
  } else if (intent.kind === 'sendMail' && spec.type === 'notify') {
    if (crashed) {
      // There is no way to ask the mail service whether it was sent: never send twice.
      setStatus(
        ctx,
        a,
        'skipped',
        'the coordinator stopped while sending this email; it may not have been sent and is not sent again',
      );
    } else {
      issue(ctx, a, notifyCommand(s, a.id, spec.to, spec.subject, spec.body));
    }
  } else if (intent.kind === 'callWebhook') {
    setStatus(
      ctx,
      a,
      'failed',
      'the coordinator stopped while making this call; whether it reached the server is unknown, so it is not repeated',
    );
  }
}

function applyObservation(ctx: Ctx, o: Observation): void {
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
      if (!a || a.status !== 'resolving' || a.spec.type !== 'deploy') return;
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
        case 'join':
          a.status = 'running';
          a.joined = true;
          a.deploymentId = decision.deploymentId;
          a.taskId = decision.taskId;
          note(ctx, `${a.id}: ${decision.why}.`);
          return;
        case 'deploy': {
          a.status = 'starting';
          const intent = recordIntent(ctx, a, 'createDeployment');
          note(ctx, `${a.id}: ${decision.why} (${o.resolution.why}).`);
          issue(ctx, a, {
            kind: 'createDeployment',
            actionId: a.id,
            attempt: intent.attempt,
            marker: runMarker(s.id, a.id, intent.attempt),
            recover: false,
            resolution: o.resolution,
          });
          return;
        }
      }
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
      if (s.status === 'cancelling' || s.timedOut)
        requestTaskCancel(ctx, a, s.timedOut ? 'the run timed out' : 'the run was cancelled');
      return;
    }
    case 'task': {
      if (s.pendingCancels.includes(o.taskId) && isFinishedTaskStateName(o.state)) {
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
        if (o.state === 'Success') setStatus(ctx, a, 'succeeded');
        else if (o.state === 'Canceled')
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
        else
          a.note = o.hasPendingInterruptions
            ? 'waiting for someone to answer a manual intervention or guided failure in Octopus'
            : undefined;
      }
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
    case 'commandFailed':
      applyFailure(ctx, o.command, o.message, o.retryable);
      return;
  }
}

function isFinishedTaskStateName(state: string): boolean {
  return state !== 'Queued' && state !== 'Executing' && state !== 'Cancelling';
}

function applyCancel(ctx: Ctx, by: string | undefined, reason: string | undefined): void {
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

function applyFailure(ctx: Ctx, command: Command, message: string, retryable: boolean): void {
  const { s, now } = ctx;
  if (command.kind === 'capturePrevious') {
    s.previous.awaiting = false;
    s.previous.failures += 1;
    s.previous.error = message;
    if (retryable) s.previous.retryAt = addMs(now, backoffMs(s.previous.failures));
    else {
      s.failure = { message: `could not read the releases current before the run: ${message}` };
      finish(ctx, 'failed');
    }
    return;
  }
  if (command.kind === 'cancelTask') {
    if (retryable) {
      s.cancelAwaiting = false;
      s.cancelRetryAt = addMs(now, backoffMs(1));
    } else {
      s.pendingCancels = s.pendingCancels.filter((t) => t !== command.taskId);
      note(ctx, `Could not cancel Octopus task ${command.taskId}: ${message}`);
    }
    return;
  }
  if (command.kind === 'sendFinishedMail') {
    s.finishedMail.intent = undefined;
    const tries = (s.finishedMail.failures ?? 0) + 1;
    s.finishedMail.failures = tries;
    s.finishedMail.error = message;
    if (retryable && tries < mailAttempts) {
      s.finishedMail.status = 'pending';
      s.finishedMail.retryAt = addMs(now, backoffMs(tries));
    } else s.finishedMail.status = 'failed';
    return;
  }
  const a = allActions(s).find((x) => x.id === command.actionId);
  if (!a || isFinishedAction(a.status)) return;
  a.awaiting = false;
  a.failures += 1;
  switch (command.kind) {
    case 'resolveDeploy':
    case 'evaluateCondition':
      if (retryable) {
        a.retryAt = addMs(now, backoffMs(a.failures));
        a.note = `Octopus is not answering (${message}); trying again at ${a.retryAt}`;
      } else setStatus(ctx, a, 'failed', message);
      return;
    case 'createDeployment':
    case 'runRunbook':
      if (retryable && a.intent) {
        a.intent.recover = true;
        a.retryAt = addMs(now, backoffMs(a.failures));
        a.note = `Octopus did not confirm the start (${message}); will look for it, then try again, at ${a.retryAt}`;
      } else setStatus(ctx, a, 'failed', message);
      return;
    case 'sendMail':
      if (retryable && a.failures < mailAttempts) {
        a.retryAt = addMs(now, backoffMs(a.failures));
        if (a.intent) a.intent.recover = true;
      } else
        setStatus(
          ctx,
          a,
          'skipped',
          `the email could not be sent (${message}); the run goes on without it`,
        );
      return;
    case 'callWebhook':
      setStatus(ctx, a, 'failed', message);
      return;
  }
}

function finish(ctx: Ctx, status: Extract<RunStatus, 'succeeded' | 'failed' | 'cancelled'>): void {
  const { s, now } = ctx;
  s.status = status;
  s.finishedAt = iso(now);
  s.finishedMail = s.plan.recipients.length > 0 ? { status: 'pending' } : { status: 'none' };
  const rolled =
    s.onFailure.status === 'succeeded'
      ? ', onFailure done'
      : s.onFailure.status === 'failed'
        ? ', onFailure failed'
        : '';
  note(ctx, `Run ${status}${rolled}.`);
}

function runTimedOut(ctx: Ctx): boolean {
  const { s, now } = ctx;
  if ((s.status !== 'running' && s.status !== 'failing') || s.timedOut || !due(s.deadline, now))
    return false;
  s.timedOut = true;
  s.failure ??= { message: `the run did not finish within ${s.plan.timeoutMinutes} minutes` };
  note(ctx, `Run timed out after ${s.plan.timeoutMinutes} minutes.`);
  stopActiveWork(ctx, 'the run timed out');
  s.status = 'failing';
  return true;
}

function stageFailure(ctx: Ctx): void {
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

function beginOnFailure(ctx: Ctx): void {
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

function stepOnFailure(ctx: Ctx): void {
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

function stepStages(ctx: Ctx): void {
  const { s, now } = ctx;
  for (let guard = 0; guard < s.stages.length + 1 && s.status === 'running'; guard++) {
    const stage = s.stages[s.stageIndex];
    if (!stage) {
      finish(ctx, 'succeeded');
      return;
    }
    if (stage.status === 'pending') {
      stage.status = 'running';
      stage.startedAt = iso(now);
      note(ctx, `Stage "${stage.name}" started.`);
      for (const a of stage.actions) startAction(ctx, a);
    }
    for (const a of stage.actions) progressAction(ctx, a);
    stageFailure(ctx);
    if (s.status !== 'running') return;
    if (!stage.actions.every((a) => isFinishedAction(a.status))) return;
    stage.status = 'succeeded';
    stage.finishedAt = iso(now);
    note(ctx, `Stage "${stage.name}" succeeded.`);
    s.stageIndex += 1;
  }
}

function stepStopping(ctx: Ctx): void {
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

function stepCancels(ctx: Ctx): void {
  const { s, now } = ctx;
  if (s.pendingCancels.length === 0) return;
  const inFlight = s.cancelAwaiting === true && s.cancelIssuedUnder === leaseId(s);
  if (inFlight || !due(s.cancelRetryAt, now)) return;
  s.cancelAwaiting = true;
  s.cancelIssuedUnder = leaseId(s);
  s.cancelRetryAt = undefined;
  for (const taskId of s.pendingCancels) ctx.cmds.push({ kind: 'cancelTask', taskId });
}

function stepFinishedMail(ctx: Ctx): void {
  const { s, now } = ctx;
  const mail = s.finishedMail;
  if (mail.status === 'sending' && mail.intent && mail.intent.leaseId !== leaseId(s)) {
    mail.status = 'unknown';
    mail.intent = undefined;
    note(
      ctx,
      'The coordinator stopped while sending the "run finished" email; it may not have been sent and is not sent again.',
    );
    return;
  }
  if (mail.status !== 'pending' || !due(mail.retryAt, now)) return;
  mail.status = 'sending';
  mail.retryAt = undefined;
  mail.intent = {
    kind: 'sendMail',
    attempt: (mail.failures ?? 0) + 1,
    recordedAt: iso(now),
    leaseId: leaseId(s),
  };
  ctx.cmds.push({ kind: 'sendFinishedMail', to: s.plan.recipients });
}

function stepRun(ctx: Ctx): void {
  const { s, now } = ctx;
  if (isTerminalRunStatus(s.status)) {
    stepFinishedMail(ctx);
    return;
  }
  if (!s.previous.captured) {
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
  if (JSON.stringify(s) !== JSON.stringify(state)) s.updatedAt = iso(now);
  return { state: s, commands: ctx.cmds };
}

/** Task ids whose state the run is waiting on (to poll them, and to route webhook events). */
export function watchedTaskIds(s: RunState): string[] {
  const ids = new Set<string>(s.pendingCancels);
  for (const a of allActions(s)) if (a.taskId && a.status === 'running') ids.add(a.taskId);
  return [...ids];
}

/** Whether a deploy plan release is fixed in advance (for dry-run wording). */
export const isFixedRelease = (spec: PlanDeploy): boolean => isChosenRelease(spec.release);
