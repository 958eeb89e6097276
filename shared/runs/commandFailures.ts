// A command the executor could not perform: retry later when that can help, otherwise fail (or, for email, skip) what asked for it.
import { approvalMailFailed } from './approval.js';
import { claimFailed } from './claims.js';
import { finish } from './finish.js';
import { addMs, allActions, backoffMs, note, setStatus, type Ctx } from './stepContext.js';
import { isFinishedAction, type Command } from './types.js';

/** A failed notify email is tried this many times before it is given up (it never fails the run). */
const mailAttempts = 3;

export function applyFailure(
  ctx: Ctx,
  command: Command,
  message: string,
  retryable: boolean,
): void {
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
  if (command.kind === 'claimDeploy' || command.kind === 'releaseClaim') {
    claimFailed(ctx, command.actionId, command.kind, message);
    return;
  }
  if (command.kind === 'sendApprovalMail') {
    approvalMailFailed(ctx, command, message, retryable);
    return;
  }
  const a = allActions(s).find((x) => x.id === command.actionId);
  if (!a || isFinishedAction(a.status)) return;
  a.awaiting = false;
  a.failures += 1;
  switch (command.kind) {
    case 'resolveDeploy':
    case 'evaluateCondition':
    case 'resolveApprovalPlan':
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
