// Locks: who holds each (with its fence), who waits in which order, and why each waits.
import { badge, utc, when } from './format.js';
import { html, link, type SafeHtml } from '../html/html.js';
import type { LockPageView } from './model.js';

function task(taskId: string | undefined, url: string | undefined): SafeHtml | '' {
  return taskId ? html` · bound to ${link(url, html`task ${taskId}`)}` : '';
}

function lock(l: LockPageView, now: Date): SafeHtml {
  const holders =
    l.holders.length === 0
      ? html`<span class="empty">free</span>`
      : html`<ul class="actions">
          ${l.holders.map(
            (h) =>
              html`<li>
                <strong>${h.holder}</strong> · fence ${h.fence} · since ${when(h.grantedAt, now)} ·
                ${
                  h.expired
                    ? html`${badge('failed', 'expired')} at ${utc(h.expiresAt)} (freed on the next
                      request)`
                    : html`expires ${when(h.expiresAt, now)}`
                }${task(h.octopusTaskId, h.taskUrl)}
              </li>`,
          )}
        </ul>`;
  const waiters =
    l.waiters.length === 0
      ? html`<span class="empty">none</span>`
      : html`<ol class="waiters">
          ${l.waiters.map(
            (w) =>
              html`<li>
                <strong>${w.holder}</strong>${w.priority > 0 ? html` · priority ${w.priority}` : ''}
                · waiting since ${when(w.queuedAt, now)}${task(w.octopusTaskId, w.taskUrl)}<br /><small
                  >${w.why}</small
                >
              </li>`,
          )}
        </ol>`;
  const forced =
    l.forced && l.forced.length > 0
      ? html`<br /><small
            >${l.forced.map(
              (f) =>
                html`${badge('failed', 'force-released')} fence ${f.fence} (${f.holder}) by ${f.by}
                  ${when(f.at, now)}: ${f.reason}<br />`,
            )}</small
          >`
      : '';
  return html`<tr>
    <th scope="row">${l.name}${forced}</th>
    <td>
      <span class="label">Permits held</span> ${l.holders.filter((h) => !h.expired).length} of
      ${l.permits}<br /><small>last fence ${l.lastFence}</small>
    </td>
    <td>
      <span class="label">Holders</span>
      ${holders}
    </td>
    <td>
      <span class="label">Waiters, in order</span>
      ${waiters}
    </td>
  </tr>`;
}

/** Each run takes its own lock (job/run/<id>) while it advances; idle ones are noise on this page. */
function isIdleRunLock(l: LockPageView): boolean {
  return l.name.startsWith('job/run/') && l.holders.length === 0 && l.waiters.length === 0;
}

export function renderLocks(all: LockPageView[], now: Date): SafeHtml {
  if (all.length === 0) return html`<p class="empty">No lock has been taken yet.</p>`;
  const locks = all.filter((l) => !isIdleRunLock(l));
  const hidden = all.length - locks.length;
  const note = hidden > 0 ? html`<p class="empty">${hidden} idle run lock(s) not shown.</p>` : '';
  if (locks.length === 0) {
    return html`<p class="empty">No lock is held or waited for.</p>
      ${note}`;
  }
  const deadlocks = [...new Set(locks.flatMap((l) => l.deadlocks ?? []))];
  const warning =
    deadlocks.length > 0
      ? html`<div class="notice bad" role="alert">
          ${deadlocks.map((d) => html`<p>${badge('failed', 'deadlock')} ${d}</p>`)}
        </div>`
      : '';
  return html`${warning}${note}
    <div class="scroll">
      <table class="stack">
        <thead>
          <tr>
            <th scope="col">Lock</th>
            <th scope="col">Permits held</th>
            <th scope="col">Holders</th>
            <th scope="col">Waiters, in order</th>
          </tr>
        </thead>
        <tbody>
          ${locks.map((l) => lock(l, now))}
        </tbody>
      </table>
    </div>`;
}
