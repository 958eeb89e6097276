// Finishing a run: its final status, and the one "run finished" email (never sent twice).
import { due, iso, leaseId, note, type Ctx } from './stepContext.js';
import type { RunStatus } from './types.js';

export function finish(
  ctx: Ctx,
  status: Extract<RunStatus, 'succeeded' | 'failed' | 'cancelled'>,
): void {
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

export function stepFinishedMail(ctx: Ctx): void {
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
