// The approval request: ONE email per approver with the plan (exact releases per project, the stages)
// and a link of their own to the confirmation page, in the one email layout.
import {
  bulletList,
  dataTable,
  emailDocument,
  emailLink,
  paragraph,
  subheading,
} from '../html/emailLayout.js';
import { html, type SafeHtml } from '../html/html.js';
import { runPageUrl } from '../html/publicLinks.js';
import type { MailMessage } from '../mail/mailer.js';
import { readableTime } from '../time/zones.js';
import { itemsText } from './approval.js';
import type { RunMailContext } from './mail.js';
import { describe } from './stepContext.js';
import type { ApprovalItem, ApprovalRound, PlanApproval, RunState } from './types.js';

export interface ApprovalMailInput {
  run: RunState;
  spec: PlanApproval;
  round: ApprovalRound;
  to: string;
  /** The signed confirmation page, or undefined when no signing key is set. */
  link: string | undefined;
  /** The run's record in the API, for the function-key route. */
  apiBase: string;
}

/** What is being approved, as a heading: "Playbook "release-web-stack" in Production". */
export function approvalTitle(run: RunState): string {
  const kind = run.plan.kind === 'promotion' ? 'Promotion' : 'Playbook';
  return `${kind} "${run.plan.name}"${run.plan.environment ? ` in ${run.plan.environment}` : ''}`;
}

export function itemRows(items: readonly ApprovalItem[]): string[][] {
  return items.map((i) => [
    `${i.project} to ${i.environment}${i.tenant ? ` for ${i.tenant}` : ''}`,
    i.version,
    `${i.stage}: ${i.train ? `train ${i.train}, ` : ''}${i.why}`,
  ]);
}

export const itemColumns = ['Project and where', 'Release', 'Stage and why this release'];

/** The release trains the plan takes its releases from, if any ("web-stack@3f2a…"). */
export function trainsOf(items: readonly ApprovalItem[]): string[] {
  return [...new Set(items.flatMap((i) => (i.train ? [i.train] : [])))];
}

/** Every stage of the run and its actions, one line each ("Backend: deploy Database to Production, …"). */
export function stageLines(run: RunState): string[] {
  return run.stages.map(
    (st) => `${st.name}: ${st.actions.map((a) => describe(a)).join(', ') || 'nothing'}`,
  );
}

export function approvalRequestMail(
  input: ApprovalMailInput,
  ctx: RunMailContext,
): Pick<MailMessage, 'subject' | 'text' | 'html'> {
  const { run, spec, round, to, link } = input;
  const title = approvalTitle(run);
  const subject = `Approval needed: ${title} (run ${run.id})`;
  const until = readableTime(round.expiresAt, ctx.timeZone);
  const who = run.trigger.by ? ` (started by ${run.trigger.by})` : '';
  const ask = `${title}${who} waits for ${spec.minApprovals} approval(s) from ${spec.approvers.join(', ')} until ${until}. Nothing in it is deployed until then; a rejection or no decision by then fails the run and runs its onFailure.`;
  const again = round.reason ? `Asked again (round ${round.n}): ${round.reason}.` : undefined;
  const bound = `What you approve is exactly these releases (plan ${round.fingerprint}). If the plan changes before the next stage starts, you are asked again instead of it deploying something nobody approved.`;
  const api = `${input.apiBase}/api/runs/${encodeURIComponent(run.id)}`;
  const linkText = link
    ? `Review and decide: ${link}\nOpening the link changes nothing: the page shows the plan and asks you to approve or reject. The link is for ${to} only, works once and expires at ${until}.`
    : 'Approval links are off (COORDINATOR_APPROVAL_KEY is not set in the app settings).';
  const apiText = `With the function key: POST ${api}/approve or ${api}/reject with {"by": "${to}", "comment": "…"}.`;
  const footer = `You get this because you are an approver of ${title} (action ${spec.id}); sent by the Octopus Coordinator for run ${run.id}. Times are in ${ctx.timeZone}.`;

  const page = runPageUrl(ctx.publicUrl, run.id);
  const text: string[] = [ask, ''];
  if (again) text.push(again, '');
  const trains = trainsOf(round.items);
  if (trains.length > 0) text.push(`Release train: ${trains.join(', ')}.`);
  text.push(`What would be deployed: ${itemsText(round.items)}.`);
  for (const i of round.items)
    text.push(
      `  - ${i.stage}: ${i.project} ${i.version} to ${i.environment}${i.tenant ? ` for ${i.tenant}` : ''} (${i.why})`,
    );
  text.push('', 'Stages:', ...stageLines(run).map((l) => `  - ${l}`), '', bound, '', linkText);
  text.push(apiText);
  if (page) text.push(`The run on the status page: ${page}`);
  text.push('', '-- ', footer);

  const body: SafeHtml[] = [paragraph(ask)];
  if (again) body.push(paragraph(again, 'bad'));
  if (trains.length > 0) body.push(paragraph(`Release train: ${trains.join(', ')}.`));
  body.push(subheading('What would be deployed'));
  body.push(
    round.items.length > 0
      ? dataTable(itemColumns, itemRows(round.items))
      : paragraph('No deployments: the stages after this approval deploy nothing.'),
  );
  body.push(subheading('Stages'), bulletList(stageLines(run)), paragraph(bound));
  body.push(
    paragraph(
      link
        ? html`Opening the link changes nothing: the page shows the plan and asks you to approve or
            reject. The link is for <strong>${to}</strong> only, works once and expires at ${until}.`
        : linkText,
    ),
    paragraph(html`<span style="color:#555">${apiText}</span>`),
  );
  if (page) body.push(paragraph(html`${emailLink(page, 'The run on the status page')}`));
  return {
    subject,
    text: text.join('\n') + '\n',
    html: emailDocument({
      title: subject,
      tone: 'info',
      body,
      action: { url: link, text: 'Review and approve or reject' },
      footer,
    }),
  };
}
