// Starting an action, and moving a started one forward: timeouts, waits, re-issuing lost or failed commands, recovering intents.
import { parseCron } from '../config/coordination/common.js';
import {
  createDeploymentCommand,
  notifyCommand,
  readCommand,
  renderBody,
  runRunbookCommand,
} from './actionCommands.js';
import { approvalTimedOut, progressApproval, startApproval } from './approval.js';
import { runMarker } from './runMarker.js';
import {
  addMs,
  due,
  iso,
  issue,
  leaseId,
  mayStartWork,
  note,
  recordIntent,
  requestTaskCancel,
  setStatus,
  type Ctx,
} from './stepContext.js';
import { isFinishedAction, type ActionState, type Intent } from './types.js';

function untilTime(until: string, timeZone: string | undefined, from: Date): string {
  if (until.includes('T')) return new Date(until).toISOString();
  const [h = '0', m = '0', sec = '0'] = until.split(':');
  const next = parseCron(
    `${Number(sec)} ${Number(m)} ${Number(h)} * * *`,
    timeZone ?? 'UTC',
  ).nextRun(from);
  return (next ?? from).toISOString();
}

export function startAction(ctx: Ctx, a: ActionState): void {
  const { s, now } = ctx;
  const spec = a.spec;
  a.startedAt = iso(now);
  const timeout = 'timeoutMinutes' in spec ? spec.timeoutMinutes : undefined;
  if (timeout !== undefined) a.deadline = addMs(now, timeout * 60_000);
  switch (spec.type) {
    case 'deploy':
    case 'check': {
      a.status = 'resolving';
      const read = readCommand(s, a);
      if (read) issue(ctx, a, read);
      return;
    }
    case 'runbook': {
      a.status = 'starting';
      const intent = recordIntent(ctx, a, 'runRunbook');
      issue(ctx, a, runRunbookCommand(s, a, spec, intent.attempt, false));
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
    case 'approval':
      startApproval(ctx, a);
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
    const read = readCommand(ctx.s, a);
    if (read) issue(ctx, a, read);
  }
}

/** Move one started action forward: timeouts, re-issuing lost or failed commands, recovery of intents. */
export function progressAction(ctx: Ctx, a: ActionState): void {
  const { s, now } = ctx;
  if (a.status === 'pending' || isFinishedAction(a.status)) return;
  const lease = leaseId(s);

  // A task waiting for someone in Octopus is not stuck: its timeout waits (the deadline moves on resume).
  if (a.deadline && due(a.deadline, now) && a.status !== 'starting' && !a.pausedSince) {
    if (a.spec.type === 'approval') {
      approvalTimedOut(ctx, a);
      return;
    }
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
        const read = readCommand(s, a);
        if (read) issue(ctx, a, read);
      }
      return;
    }
    case 'waiting':
      if (!mayStartWork(s)) {
        setStatus(ctx, a, 'cancelled', `stopped: the run is ${s.status}`);
        return;
      }
      if (a.spec.type === 'approval') progressApproval(ctx, a);
      else progressWait(ctx, a);
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
  if (intent.kind === 'createDeployment' && a.resolution) {
    note(
      ctx,
      `${a.id}: checking Octopus for a deployment marked "${runMarker(s.id, a.id, intent.attempt)}" before deploying again.`,
    );
    issue(ctx, a, createDeploymentCommand(s, a, intent.attempt, true, a.resolution));
  } else if (intent.kind === 'runRunbook' && spec.type === 'runbook') {
    issue(ctx, a, runRunbookCommand(s, a, spec, intent.attempt, true));
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
