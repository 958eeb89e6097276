// Runs in progress and recent ones, stage by stage and action by action, with links to Octopus tasks.
import type { ActionView, RunView } from '../runs/view.js';
import { badge, utc, when } from './format.js';
import { html, link, type SafeHtml } from '../html/html.js';
import type { RunsSection } from './model.js';

function action(a: ActionView, now: Date): SafeHtml {
  const task = a.taskId
    ? html` ·
      ${link(a.taskLink, html`task ${a.taskId}`)}${a.taskState ? html` <small>(${a.taskState})</small>` : ''}`
    : '';
  const release = a.release ? html` · <span class="version">${a.release.version}</span>` : '';
  const detail = a.error ?? a.note ?? a.decision;
  return html`<li>
    ${badge(a.status)}
    ${a.describe}${release}${task}${a.startedAt ? html` <small>${when(a.startedAt, now)}</small>` : ''}${detail ? html`<br /><small>${detail}</small>` : ''}
  </li>`;
}

function stage(s: RunView['stages'][number], now: Date): SafeHtml {
  const actions =
    s.actions.length > 0
      ? html`<ul class="actions">
          ${s.actions.map((a) => action(a, now))}
        </ul>`
      : '';
  return html`<li><strong>${s.name}</strong> ${badge(s.status)}${actions}</li>`;
}

function onFailure(run: RunView, now: Date): SafeHtml | '' {
  if (run.onFailure.status === 'notRun' || run.onFailure.steps.length === 0) return '';
  return html`<p><strong>On failure</strong> ${badge(run.onFailure.status)}</p>
    <ol class="stages">
      ${run.onFailure.steps.map(
        (st) =>
          html`<li>
            ${st.type} ${badge(st.status)}
            <ul class="actions">
              ${st.actions.map((a) => action(a, now))}
            </ul>
          </li>`,
      )}
    </ol>`;
}

const triggerWords: Record<RunView['trigger']['kind'], string> = {
  api: 'started through the API',
  rule: 'started by a rule',
  schedule: 'started on schedule',
  promotion: 'promotion slot',
};

function triggerText(r: RunView): string {
  return `${triggerWords[r.trigger.kind] ?? r.trigger.kind}${r.trigger.by ? ` (${r.trigger.by})` : ''}`;
}

/** What the collapsed row says happened, in one line (the first line of a failure, shortened). */
export function outcomeLine(r: RunView): string {
  const short = (text: string) => {
    const line = text.split('\n')[0] ?? '';
    return line.length > 140 ? `${line.slice(0, 139)}…` : line;
  };
  if (r.failure)
    return short(`${r.failure.stage ? `${r.failure.stage}: ` : ''}${r.failure.message}`);
  if (r.cancel)
    return short(
      `cancelled${r.cancel.by ? ` by ${r.cancel.by}` : ''}${r.cancel.reason ? `: ${r.cancel.reason}` : ''}`,
    );
  const approval = r.waitingForApproval;
  if (approval)
    return approval.until
      ? `waiting for approval (${approval.approvedBy.length} of ${approval.minApprovals}) by ${approval.waitingFor.join(', ')} until ${utc(approval.until)}`
      : 'preparing its approval request';
  if (r.status === 'succeeded') {
    const deployed = r.stages
      .flatMap((s) => s.actions)
      .filter((a) => a.release && a.status === 'succeeded').length;
    return `all ${r.stages.length} stage(s) succeeded${deployed > 0 ? `, ${deployed} deployment(s)` : ''}`;
  }
  const current = r.stages.find((s) => s.status !== 'succeeded' && s.status !== 'skipped');
  return current ? `at stage "${current.name}" (${current.status})` : short(r.summary);
}

function run(r: RunView, now: Date, open: boolean): SafeHtml {
  const trigger = `${r.trigger.kind}${r.trigger.by ? ` by ${r.trigger.by}` : ''}`;
  const body = html`<p class="muted">${r.summary}</p>
    <p>
      <small
        >Run ${r.id} · started ${when(r.createdAt, now)} (${utc(r.createdAt)}) ·
        ${trigger}${
          r.finishedAt
            ? html` · finished ${when(r.finishedAt, now)}`
            : html` · deadline ${utc(r.deadline)}`
        }</small
      >
    </p>
    ${
      r.waitingForApproval?.until
        ? html`<p class="notice">
            Waiting for approval: ${r.waitingForApproval.approvedBy.length} of
            ${r.waitingForApproval.minApprovals} so far; asked
            ${r.waitingForApproval.waitingFor.join(', ')} until ${utc(r.waitingForApproval.until)}
            (round ${r.waitingForApproval.round}:
            ${r.waitingForApproval.plan.map((p) => `${p.project} ${p.version}${p.tenant ? ` (${p.tenant})` : ''}`).join(', ') || 'no deployments'}).
          </p>`
        : ''
    }
    ${r.failure ? html`<p class="notice bad">${r.failure.stage ? `Stage ${r.failure.stage}: ` : ''}${r.failure.message}</p>` : ''}
    <ol class="stages">
      ${r.stages.map((s) => stage(s, now))}
    </ol>
    ${onFailure(r, now)}`;
  const summary = html`<summary>
    ${badge(r.status)} <strong>${r.kind} ${r.name}</strong>
    <span class="facts"
      >${r.environment ? html`<span>${r.environment}${r.tenant ? ` · ${r.tenant}` : ''}</span>` : ''}<span
        >${triggerText(r)}</span
      ><span title="${utc(r.createdAt)}">started ${when(r.createdAt, now)}</span></span
    >
    <span class="outcome">${outcomeLine(r)}</span>
  </summary>`;
  const id = `run-${r.id}`;
  return open
    ? html`<details class="run" id="${id}" open>${summary}${body}</details>`
    : html`<details class="run" id="${id}">${summary}${body}</details>`;
}

export function renderRuns(section: RunsSection, now: Date): SafeHtml {
  const active =
    section.active.length === 0
      ? html`<p class="empty">No run is in progress.</p>`
      : section.active.map((r) => run(r, now, true));
  const recent =
    section.recent.length === 0
      ? html`<p class="empty">No run has finished yet.</p>`
      : section.recent.map((r) => run(r, now, false));
  const more =
    section.notShown > 0
      ? html`<p class="muted">
          ${section.notShown} older run(s) not shown; GET /api/runs lists them all.
        </p>`
      : '';
  return html`<h3>In progress</h3>
    ${active}
    <h3>Recent</h3>
    ${recent}${more}`;
}
