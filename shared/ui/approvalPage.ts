// The approval confirmation page behind an emailed link. GET shows the plan and a form and changes
// nothing (mail scanners and link previews follow links); only the form's POST records a decision.
// The page is anonymous: the signed token in its address is the authorisation (see runs/approvalToken.ts).
// A used, expired, superseded or tampered link gets a page that says so, never a stack or a secret.
import { html, type SafeHtml } from '../html/html.js';
import type { Runtime } from '../runtime/runtime.js';
import { itemColumns, itemRows, stageLines, approvalTitle } from '../runs/approvalMail.js';
import { verifyApprovalToken, type ApprovalClaims } from '../runs/approvalToken.js';
import {
  judgeDecision,
  recordApprovalDecision,
  type ApprovalAt,
  type DecisionOutcome,
} from '../runs/decisions.js';
import { RunStore } from '../runs/store.js';
import type { ApprovalDecision, RunState } from '../runs/types.js';
import type { Log } from '../runtime/log.js';
import { readableTime } from '../time/zones.js';
import { badge } from './format.js';
import { pageCssHash, styleElement } from './styles.js';

/** Like the status page's, but the page's own form may post back to it (and only there). */
export const approvalPageHeaders = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': [
    "default-src 'none'",
    "script-src 'none'",
    `style-src '${pageCssHash}'`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  // The token is in the address: never send it on to another site.
  'referrer-policy': 'no-referrer',
  'x-robots-tag': 'noindex, nofollow',
};

export interface ApprovalPageAnswer {
  status: number;
  body: string;
}

function page(title: string, content: SafeHtml): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex, nofollow" />
        <title>${title}</title>
        ${styleElement}
      </head>
      <body>
        <main class="approval">
          <h1>${title}</h1>
          ${content}
          <p class="muted">Octopus Coordinator</p>
        </main>
      </body>
    </html> `.markup;
}

/** A page for a request that could not be handled (bad form, storage down), in the page's layout. */
export function problemPage(text: string): string {
  return page('Nothing was decided', html`<p class="notice bad">${text}</p>`);
}

function message(
  status: number,
  title: string,
  text: string,
  tone: 'bad' | '' = '',
): ApprovalPageAnswer {
  return {
    status,
    body: page(title, html`<p class="notice ${tone}">${text}</p>`),
  };
}

const verb = (d: ApprovalDecision) => (d.decision === 'approve' ? 'approved' : 'rejected');

function decisionSentence(d: ApprovalDecision, zone: string): string {
  return `${d.by} ${verb(d)} it ${readableTime(d.at, zone)}${d.comment ? ` ("${d.comment}")` : ''}`;
}

function planSection(run: RunState, at: ApprovalAt): SafeHtml {
  const items = at.round?.items ?? [];
  const rows = itemRows(items);
  return html`<h2>What would be deployed</h2>
    ${
      items.length === 0
        ? html`<p class="empty">No deployments: the stages after this approval deploy nothing.</p>`
        : html`<div class="scroll">
            <table class="stack">
              <thead>
                <tr>
                  ${itemColumns.map((c) => html`<th>${c}</th>`)}
                </tr>
              </thead>
              <tbody>
                ${rows.map(
                  (r) =>
                    html`<tr>
                      ${r.map(
                        (v, i) =>
                          html`<td>
                            <span class="label">${itemColumns[i]}</span
                            >${i === 1 ? html`<span class="version">${v}</span>` : v}
                          </td>`,
                      )}
                    </tr>`,
                )}
              </tbody>
            </table>
          </div>`
    }
    <p class="muted">
      Plan ${at.round?.fingerprint ?? ''}: you approve exactly these releases. If the plan changes
      before the next stage starts, the approvers are asked again.
    </p>
    <h2>Stages</h2>
    <ol class="stages">
      ${stageLines(run).map((l) => html`<li>${l}</li>`)}
    </ol>`;
}

function formPage(run: RunState, at: ApprovalAt, claims: ApprovalClaims, zone: string): string {
  const ap = at.action.approval;
  const round = at.round;
  const approved =
    ap && round ? ap.decisions.filter((d) => d.round === round.n && d.decision === 'approve') : [];
  const title = `Approve or reject: ${approvalTitle(run)}`;
  return page(
    title,
    html`<p>
        You decide as <strong>${claims.by}</strong> for run <code>${run.id}</code>${
          run.trigger.by ? ` (started by ${run.trigger.by})` : ''
        }.
        It needs ${at.spec.minApprovals} approval(s) from ${at.spec.approvers.join(', ')}
        ${badge('waiting', `${approved.length} of ${at.spec.minApprovals} so far`)}.
      </p>
      ${
        round?.reason
          ? html`<p class="notice">Asked again (round ${round.n}): ${round.reason}.</p>`
          : ''
      }
      ${
        approved.length > 0
          ? html`<p>${approved.map((d) => decisionSentence(d, zone)).join('; ')}.</p>`
          : ''
      }
      ${planSection(run, at)}
      <form method="post" class="decide">
        <label for="comment"
          >Comment (optional, kept in the run's history and its final email)</label
        >
        <textarea id="comment" name="comment" rows="3" maxlength="1000"></textarea>
        <p>
          <button type="submit" name="decision" value="approve" class="approve">Approve</button>
          <button type="submit" name="decision" value="reject" class="reject">Reject</button>
        </p>
      </form>
      <p class="muted">
        Decide by ${round ? readableTime(round.expiresAt, zone) : ''}: with no decision by then the
        run fails and runs its onFailure, as it does when rejected. This link is for ${claims.by}
        only and works once.
      </p>`,
  );
}

function outcomePage(
  outcome: Exclude<DecisionOutcome, { kind: 'recorded' }> | { kind: 'open' },
  zone: string,
): ApprovalPageAnswer {
  switch (outcome.kind) {
    case 'notFound':
      return message(
        404,
        'Run not found',
        'The run this link is about no longer exists (runs are kept for 90 days).',
        'bad',
      );
    case 'already':
      return message(
        200,
        'Already decided',
        `This link was used already: ${decisionSentence(outcome.decision, zone)}. Nothing was changed.`,
      );
    case 'decided':
      return message(
        409,
        'Already decided',
        `Nothing to decide any more: ${outcome.decisions.map((d) => decisionSentence(d, zone)).join('; ')}. Your click changed nothing.`,
      );
    case 'superseded':
      return message(
        410,
        'This request was replaced',
        'The plan changed after this email was sent, so the approvers were asked again with the new plan. Use the link in the newest approval email.',
        'bad',
      );
    case 'notWaiting':
      return message(409, 'Nothing to decide', `No decision is possible now: ${outcome.why}.`);
    case 'open':
      return message(409, 'Nothing to decide', 'No decision is possible now.');
  }
}

/** Check the link: its signature, then its expiry. */
function checkToken(
  runtime: Runtime,
  token: string,
): { ok: true; claims: ApprovalClaims } | { ok: false; answer: ApprovalPageAnswer } {
  const key = runtime.settings.approvalKey;
  if (!key)
    return {
      ok: false,
      answer: message(
        503,
        'Approval links are switched off',
        'This coordinator has no key to check approval links (COORDINATOR_APPROVAL_KEY is not set). Decide through the HTTP API instead, or ask the operator to set the key.',
        'bad',
      ),
    };
  const checked = verifyApprovalToken(token, key);
  if (!checked.ok)
    return {
      ok: false,
      answer: message(
        400,
        'This approval link is not valid',
        'The link was changed or cut short (or was signed with a key this coordinator no longer has). Open the link from the email exactly as it is, or use the newest approval email.',
        'bad',
      ),
    };
  if (checked.claims.exp <= runtime.clock.now().getTime())
    return {
      ok: false,
      answer: message(
        410,
        'This approval link has expired',
        `The time to decide ended ${readableTime(new Date(checked.claims.exp).toISOString(), runtime.settings.report.timeZone)}; without a decision the run has failed (or fails now) and runs its onFailure. Start the run again to ask again.`,
        'bad',
      ),
    };
  return { ok: true, claims: checked.claims };
}

const linkOf = (claims: ApprovalClaims) => ({
  action: claims.action,
  round: claims.round,
  fingerprint: claims.fp,
  tokenId: claims.id,
});

/** GET: the plan and the form, or why there is nothing to decide. Changes nothing. */
export async function showApprovalPage(
  runtime: Runtime,
  token: string,
): Promise<ApprovalPageAnswer> {
  const checked = checkToken(runtime, token);
  if (!checked.ok) return checked.answer;
  const { claims } = checked;
  const zone = runtime.settings.report.timeZone;
  const stored = await new RunStore(runtime.tables).get(claims.run);
  if (!stored) return outcomePage({ kind: 'notFound' }, zone);
  const judged = judgeDecision(stored.state, { by: claims.by, link: linkOf(claims) });
  if (judged.kind !== 'open') return outcomePage(judged, zone);
  return { status: 200, body: formPage(stored.state, judged.approval, claims, zone) };
}

/** POST: record the approver's decision once, move the run on, say what happened. */
export async function decideOnApprovalPage(
  runtime: Runtime,
  token: string,
  form: { decision: 'approve' | 'reject'; comment?: string },
  ip: string | undefined,
  log: Log,
): Promise<ApprovalPageAnswer> {
  const checked = checkToken(runtime, token);
  if (!checked.ok) return checked.answer;
  const { claims } = checked;
  const zone = runtime.settings.report.timeZone;
  const outcome = await recordApprovalDecision(
    runtime,
    {
      runId: claims.run,
      by: claims.by,
      decision: form.decision,
      comment: form.comment,
      via: 'link',
      ip,
      link: linkOf(claims),
    },
    { log },
  );
  if (outcome.kind !== 'recorded') return outcomePage(outcome, zone);
  const next =
    form.decision === 'reject'
      ? 'The run fails and runs its onFailure; everyone on its recipient list gets its final email.'
      : outcome.approval.action.status === 'succeeded'
        ? 'That was the approval it needed: the run goes on with exactly the releases shown.'
        : outcome.approval.action.status === 'waiting' && outcome.approval.round?.reason
          ? `The plan changed, so the approvers are asked again: ${outcome.approval.round.reason}.`
          : 'The run goes on once it has the approvals it needs.';
  return message(
    200,
    form.decision === 'approve' ? 'Approved' : 'Rejected',
    `Thank you, ${claims.by}: you ${verb(outcome.decision)} ${approvalTitle(outcome.state)} (run ${outcome.state.id}). ${next}`,
  );
}
