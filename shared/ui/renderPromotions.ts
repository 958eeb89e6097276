// Configured promotions: what moves where and when, the next slot in the promotion's own zone, and
// how the last slot ended (a blocked or failed one as a warning, with why).
import { readableTime } from '../time/zones.js';
import { badge, utc, when } from './format.js';
import { html, type SafeHtml } from '../html/html.js';
import type { PromotionView } from './model.js';

const lastText: Record<string, string> = {
  claimed: 'planning now',
  started: 'run started',
  blocked: 'blocked',
  nothing: 'nothing to promote',
  missed: 'slot missed',
  superseded: 'superseded',
  failed: 'could not be planned',
};

/** Slots that need someone's attention: shown as warnings, never as "ok". */
export const attentionStates = new Set(['blocked', 'missed', 'failed']);

function last(p: PromotionView, now: Date): SafeHtml {
  if (!p.last) return html`<span class="empty">no slot has come yet</span>`;
  const state = p.last.state;
  const tone = attentionStates.has(state) ? 'warning' : state === 'started' ? 'ok' : 'idle';
  const slot = /^\d{4}-/.test(p.last.slot) ? readableTime(p.last.slot, p.timeZone) : p.last.slot;
  return html`${badge(tone, lastText[state] ?? state)}
    <small>${slot}</small
    >${p.last.runId ? html`<br /><small><a href="#run-${p.last.runId}">run ${p.last.runId}</a></small>` : ''}${attentionStates.has(state) && p.last.detail ? html`<div class="notice">${p.last.detail.split('\n')[0]}</div>` : ''}<br /><small
      >recorded ${when(p.last.at, now)}</small
    >`;
}

export function renderPromotions(promotions: PromotionView[], now: Date): SafeHtml {
  if (promotions.length === 0)
    return html`<p class="empty">
      No promotions are configured (promotions in the coordination config).
    </p>`;
  const blocked = promotions.filter((p) => p.last && attentionStates.has(p.last.state));
  const warning =
    blocked.length > 0
      ? html`<p class="notice">
          ${blocked.length} promotion(s) did not run at their last slot:
          ${blocked.map((p) => p.name).join(', ')}. See why below.
        </p>`
      : '';
  return html`${warning}
    <table class="stack">
      <thead>
        <tr>
          <th scope="col">Promotion</th>
          <th scope="col">Moves</th>
          <th scope="col">Next slot</th>
          <th scope="col">Last slot</th>
        </tr>
      </thead>
      <tbody>
        ${promotions.map(
          (p) =>
            html`<tr>
              <th scope="row">${p.name}</th>
              <td><span class="label">Moves</span>set ${p.set}: ${p.from} → ${p.to}</td>
              <td>
                <span class="label">Next slot</span>
                ${p.nextSlot ? html`${readableTime(p.nextSlot, p.timeZone)}<br /><small title="${utc(p.nextSlot)}">${when(p.nextSlot, now)} · ${p.cron}</small>` : html`<span class="empty">none in the next weeks (${p.cron})</span>`}
              </td>
              <td><span class="label">Last slot</span>${last(p, now)}</td>
            </tr>`,
        )}
      </tbody>
    </table>`;
}
