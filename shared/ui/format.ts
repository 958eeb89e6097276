// Small formatters the page's sections share: times, durations and the colour of a state.
import { html, type SafeHtml } from '../html/html.js';

const good = new Set(['complete', 'success', 'succeeded', 'ok', 'skipped']);
const bad = new Set(['failed', 'timedout', 'cancelled', 'canceled', 'failing', 'rollingback']);
const busy = new Set([
  'deploying',
  'running',
  'executing',
  'queued',
  'cancelling',
  'waiting',
  'starting',
  'resolving',
]);

const warn = new Set(['warning', 'blocked', 'missed']);

/** The CSS class for a state: one of a fixed few, never the state text itself. */
export function stateClass(
  state: string | null | undefined,
): 'good' | 'bad' | 'busy' | 'warn' | '' {
  const s = (state ?? '').toLowerCase();
  if (warn.has(s)) return 'warn';
  if (good.has(s)) return 'good';
  if (bad.has(s)) return 'bad';
  if (busy.has(s)) return 'busy';
  return '';
}

export function badge(state: string | null | undefined, text?: string): SafeHtml {
  return html`<span class="badge ${stateClass(state)}">${text ?? state ?? 'unknown'}</span>`;
}

/** "2026-11-20 18:03 UTC", or the text as given when it is not a time. */
export function utc(iso: string | undefined | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** "3 min ago", "in 2 h", relative to `now`. */
export function relative(iso: string | undefined | null, now: Date): string {
  if (!iso) return '';
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '';
  const seconds = Math.round((now.getTime() - t) / 1000);
  const abs = Math.abs(seconds);
  const amount =
    abs < 60
      ? `${abs} s`
      : abs < 3600
        ? `${Math.round(abs / 60)} min`
        : abs < 172800
          ? `${Math.round(abs / 3600)} h`
          : `${Math.round(abs / 86400)} days`;
  return seconds >= 0 ? `${amount} ago` : `in ${amount}`;
}

/** A time people can read, with the exact instant in its tooltip and datetime. */
export function when(iso: string | undefined | null, now: Date): SafeHtml {
  if (!iso) return html``;
  return html`<time datetime="${iso}" title="${utc(iso)}">${relative(iso, now) || utc(iso)}</time>`;
}

export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}
