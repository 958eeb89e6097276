// The status page as one HTML document: sets, runs, locks and timer jobs; no script, self-refreshing.
import { utc, when } from './format.js';
import { html, type SafeHtml } from '../html/html.js';
import type { Section, StatusPageModel } from './model.js';
import { renderJobs, type LastPoll } from './renderJobs.js';
import { renderLocks } from './renderLocks.js';
import { attentionStates, renderPromotions } from './renderPromotions.js';
import { renderRuns } from './renderRuns.js';
import { renderSets } from './renderSets.js';
import { styleElement } from './styles.js';

/** A poll older than this is called out: the timer may have stopped. */
const stalePollMs = 5 * 60_000;

function body<T>(section: Section<T>, render: (value: T) => SafeHtml): SafeHtml {
  return section.ok ? render(section.value) : html`<p class="notice bad">${section.message}</p>`;
}

function stalePoll(model: StatusPageModel): SafeHtml | '' {
  const at = model.sets.ok ? model.sets.value.lastPoll?.at : undefined;
  if (!at || model.generatedAt.getTime() - new Date(at).getTime() < stalePollMs) return '';
  return html`<p class="notice">
    The status poll last ran ${when(at, model.generatedAt)}: set status may be out of date. Check
    that the app's timers run (see the timer jobs below).
  </p>`;
}

/** Stop the line: every coordinator freeze in force, at the top, before anything else. */
function freezeBanner(model: StatusPageModel): SafeHtml | '' {
  const section = model.freezes;
  if (!section) return '';
  if (!section.ok) return html`<p class="notice bad">${section.message}</p>`;
  if (section.value.length === 0) return '';
  const now = model.generatedAt;
  return html`<section id="freezes" class="notice bad" role="alert">
    <h2>Deployments are frozen</h2>
    <ul>
      ${section.value.map(
        (f) =>
          html`<li>
            <strong>${f.environments ? f.environments.join(', ') : 'every environment'}</strong>:
            “${f.reason}”, set by ${f.by} ${when(f.createdAt, now)},
            ${f.until ? html`until ${utc(f.until)}` : 'until lifted'}${
              f.allowRollbacks ? '' : '; rollbacks are held too'
            }
            (freeze ${f.id}; lift it with DELETE /api/freezes/${f.id}).
          </li>`,
      )}
    </ul>
    <p>
      No deployment starts there: runs wait before their next deployment, promotion slots are
      recorded as blocked, and ensure-deployed answers 409.
    </p>
  </section>`;
}

function lastPoll(model: StatusPageModel): LastPoll | undefined {
  if (!model.sets.ok || !model.sets.value.lastPoll) return undefined;
  const problems =
    model.sets.value.problems.length + model.sets.value.sets.filter((s) => s.problem).length;
  return { ...model.sets.value.lastPoll, problems };
}

function promotionWarnings(model: StatusPageModel): string[] {
  if (!model.promotions.ok) return [];
  return model.promotions.value
    .filter((p) => p.last && attentionStates.has(p.last.state))
    .map((p) => p.name);
}

export function renderStatusPage(model: StatusPageModel): string {
  const now = model.generatedAt;
  const page = html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta http-equiv="refresh" content="${model.refreshSeconds}" />
        <meta name="robots" content="noindex" />
        <title>Octopus Coordinator status</title>
        ${styleElement}
      </head>
      <body>
        <header>
          <h1>Octopus Coordinator</h1>
          <p class="muted">
            Status at ${utc(now.toISOString())}; this page refreshes itself every
            ${model.refreshSeconds} s.${model.octopusUrl ? html` Octopus: ${model.octopusUrl}` : ''}
          </p>
          <nav>
            <a href="#sets">Sets</a><a href="#runs">Runs</a><a href="#promotions">Promotions</a
            ><a href="#locks">Locks</a><a href="#jobs">Timer jobs</a>
          </nav>
        </header>
        <main>
          ${freezeBanner(model)} ${stalePoll(model)}
          <section id="sets">
            <h2>Project sets</h2>
            ${body(model.sets, (s) => renderSets(s, now))}
          </section>
          <section id="runs">
            <h2>Runs</h2>
            ${body(model.runs, (r) => renderRuns(r, now))}
          </section>
          <section id="promotions">
            <h2>Promotions</h2>
            ${body(model.promotions, (p) => renderPromotions(p, now))}
          </section>
          <section id="locks">
            <h2>Locks</h2>
            ${body(model.locks, (l) => renderLocks(l, now))}
          </section>
          <section id="jobs">
            <h2>Timer jobs</h2>
            ${body(model.jobs, (j) => renderJobs(j, now, lastPoll(model), promotionWarnings(model)))}
          </section>
        </main>
      </body>
    </html> `;
  return page.markup;
}
