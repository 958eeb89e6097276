// The run's emails, in the one email layout: the "run finished" email (what happened, stage by stage
// and action by action, and what to do next) and a playbook's notify email (its text plus the story).
import {
  bulletList,
  emailDocument,
  emailLink,
  paragraph,
  subheading,
  textBlocks,
  type EmailTone,
} from '../html/emailLayout.js';
import { runApiUrl, runPageUrl } from '../html/publicLinks.js';
import { html, type SafeHtml } from '../html/html.js';
import type { MailMessage } from '../mail/mailer.js';
import { readableTime } from '../time/zones.js';
import { actionView, type ActionView } from './view.js';
import type { ApprovalDecision, RunState } from './types.js';

/** Every decision on the run's approvals, for its final email: who, when, how, from where, why. */
export function decisionLines(run: RunState, timeZone: string): string[] {
  const lines: string[] = [];
  for (const a of run.stages.flatMap((s) => s.actions)) {
    if (a.spec.type !== 'approval' || !a.approval) continue;
    const line = (d: ApprovalDecision) =>
      `${a.id} round ${d.round}: ${d.decision === 'approve' ? 'approved' : 'rejected'} by ${d.by}, ${readableTime(d.at, timeZone)}, via ${d.via === 'link' ? 'the emailed link' : 'the API'}${d.ip ? ` from ${d.ip}` : ''}${d.comment ? `: "${d.comment}"` : ''}`;
    lines.push(...a.approval.decisions.map(line));
    if (a.approval.decisions.length === 0)
      lines.push(`${a.id}: no decision (${a.status}${a.error ? `: ${a.error}` : ''})`);
    for (const r of a.approval.rounds.slice(1))
      lines.push(`${a.id} round ${r.n} was opened because ${r.reason ?? 'the plan changed'}`);
  }
  return lines;
}

/** What the emails need beyond the run: the zone times are shown in, and where the app is reachable. */
export interface RunMailContext {
  timeZone: string;
  publicUrl: string | undefined;
}

function outcome(run: RunState): { headline: string; advice: string; tone: EmailTone } {
  const where = run.plan.environment ? ` in ${run.plan.environment}` : '';
  const name = `${run.plan.kind === 'playbook' ? 'Playbook' : 'Promotion'} "${run.plan.name}"${where}`;
  const rolledBack = run.onFailure.status === 'succeeded';
  const rollbackFailed = run.onFailure.status === 'failed';
  switch (run.status) {
    case 'succeeded':
      return { headline: `${name} succeeded`, advice: 'Nothing to do.', tone: 'good' };
    case 'cancelled':
      if (run.superseded)
        return {
          headline: `${name} stopped: Octopus superseded one of its deployments`,
          advice: `${run.superseded.actionId}: ${run.superseded.message}. Nothing was rolled back. Start the run again if the newer deployment is not what you want.`,
          tone: 'info',
        };
      return {
        headline: `${name} was cancelled${rolledBack ? ' and its onFailure actions ran' : rollbackFailed ? '; its onFailure actions failed' : ''}`,
        advice: rollbackFailed
          ? 'Some onFailure actions failed: check the environments listed below in Octopus and put them right by hand.'
          : 'The Octopus tasks the run had started were cancelled. Start the run again when ready.',
        tone: rollbackFailed ? 'bad' : 'info',
      };
    default:
      return {
        headline: `${name} failed${rolledBack ? ' and was rolled back' : rollbackFailed ? ' and rolling back failed too' : ''}`,
        advice: rollbackFailed
          ? 'Rolling back did not finish: check the environments listed below in Octopus and put them right by hand.'
          : 'See why below (and the Octopus task log), fix the cause, then start the run again.',
        tone: 'bad',
      };
  }
}

function textLine(a: ActionView): string {
  const release = a.release ? ` ${a.release.version}` : '';
  const detail = a.error ?? a.note;
  const link = a.taskLink ? `\n      task log: ${a.taskLink}` : '';
  return `  - ${a.describe}${release}: ${a.status}${detail ? ` (${detail})` : ''}${link}`;
}

function htmlLine(a: ActionView): SafeHtml {
  const release = a.release ? html` <code>${a.release.version}</code>` : '';
  const detail = a.error ?? a.note;
  const color = a.status === 'failed' ? '#c62828' : a.status === 'succeeded' ? '#2e7d32' : '#444';
  return html`${a.describe}${release}:
    <strong style="color:${color}">${a.status}</strong
    >${detail ? html` <span style="color:#555">(${detail})</span>` : ''}${a.taskLink ? html` · ${emailLink(a.taskLink, 'task log')}` : ''}`;
}

function onFailureRan(run: RunState): boolean {
  return run.onFailure.status !== 'notRun' && run.onFailure.status !== 'skipped';
}

function timing(run: RunState, ctx: RunMailContext): string {
  const started = readableTime(run.createdAt, ctx.timeZone);
  const finished = run.finishedAt ? readableTime(run.finishedAt, ctx.timeZone) : 'not yet';
  return `Run ${run.id}, started ${started}, finished ${finished}.`;
}

function footer(run: RunState, ctx: RunMailContext, why: string): string {
  return `${why} Sent by the Octopus Coordinator for run ${run.id}; times are in ${ctx.timeZone}.`;
}

export function runFinishedMail(
  run: RunState,
  ctx: RunMailContext,
): Pick<MailMessage, 'subject' | 'text' | 'html'> {
  const { headline, advice, tone } = outcome(run);
  const why = run.failure ? `Why: ${run.failure.message}` : undefined;
  const cancelled = run.cancel
    ? `Cancelled${run.cancel.by ? ` by ${run.cancel.by}` : ''}${run.cancel.reason ? `: ${run.cancel.reason}` : ''}.`
    : undefined;
  const before = run.previous.cells.filter((c) => c.lastSuccessful);
  const beforeLine = (c: (typeof before)[number]) =>
    `${c.project} in ${c.environment}${c.tenant ? ` for ${c.tenant}` : ''}: ${c.lastSuccessful?.version ?? ''}`;
  const pageUrl = runPageUrl(ctx.publicUrl, run.id);
  const apiUrl = runApiUrl(ctx.publicUrl, run.id);

  const text: string[] = [`${headline}.`, ''];
  if (why) text.push(why);
  if (cancelled) text.push(cancelled);
  text.push(`What to do: ${advice}`, '', timing(run, ctx));
  if (pageUrl) text.push(`Status page: ${pageUrl}`, `Run record: ${apiUrl ?? ''}`);
  text.push('');
  for (const stage of run.stages) {
    text.push(`Stage "${stage.name}": ${stage.status}`);
    stage.actions.forEach((a) => text.push(textLine(actionView(a))));
  }
  if (onFailureRan(run)) {
    text.push(`onFailure: ${run.onFailure.status}`);
    run.onFailure.steps.forEach((step) =>
      step.actions.forEach((a) => text.push(textLine(actionView(a)))),
    );
  }
  const decisions = decisionLines(run, ctx.timeZone);
  if (decisions.length > 0) {
    text.push('', 'Approvals:');
    decisions.forEach((d) => text.push(`  - ${d}`));
  }
  if (before.length > 0) {
    text.push('', 'Releases before the run:');
    before.forEach((c) => text.push(`  - ${beforeLine(c)}`));
  }
  text.push('', '-- ', footer(run, ctx, 'You get this because you are a recipient of this run.'));

  const body: SafeHtml[] = [];
  if (why) body.push(paragraph(why, 'bad'));
  if (cancelled) body.push(paragraph(cancelled));
  body.push(paragraph(html`<strong>What to do:</strong> ${advice}`));
  body.push(paragraph(timing(run, ctx)));
  for (const stage of run.stages) {
    body.push(subheading(`Stage "${stage.name}": ${stage.status}`));
    if (stage.actions.length > 0)
      body.push(bulletList(stage.actions.map((a) => htmlLine(actionView(a)))));
  }
  if (onFailureRan(run)) {
    body.push(subheading(`onFailure: ${run.onFailure.status}`));
    const actions = run.onFailure.steps.flatMap((step) => step.actions);
    if (actions.length > 0) body.push(bulletList(actions.map((a) => htmlLine(actionView(a)))));
  }
  if (decisions.length > 0) {
    body.push(subheading('Approvals'));
    body.push(bulletList(decisions));
  }
  if (before.length > 0) {
    body.push(subheading('Releases before the run'));
    body.push(bulletList(before.map(beforeLine)));
  }
  return {
    subject: `${headline} (run ${run.id})`,
    text: text.join('\n') + '\n',
    html: emailDocument({
      title: headline,
      tone,
      body,
      action: { url: pageUrl, text: 'Open the run on the status page' },
      footer: footer(run, ctx, 'You get this because you are a recipient of this run.'),
    }),
  };
}

/** A playbook's notify action: its own subject and body (placeholders filled), then the run so far. */
export function notifyMail(
  run: RunState,
  ctx: RunMailContext,
  message: { subject: string; text: string },
): Pick<MailMessage, 'subject' | 'text' | 'html'> {
  const pageUrl = runPageUrl(ctx.publicUrl, run.id);
  const why = `You get this because playbook "${run.plan.name}" notifies you.`;
  return {
    subject: message.subject,
    text: `${message.text}\n\n${timing(run, ctx)}${pageUrl ? `\nStatus page: ${pageUrl}` : ''}\n\n-- \n${footer(run, ctx, why)}\n`,
    html: emailDocument({
      title: message.subject,
      tone: 'info',
      body: [...textBlocks(message.text), paragraph(timing(run, ctx))],
      action: { url: pageUrl, text: 'Open the run on the status page' },
      footer: footer(run, ctx, why),
    }),
  };
}
