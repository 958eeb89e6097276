// The last run of every timer job and how it ended.
import type { JobRunRecord } from '../jobs/jobHistory.js';
import { badge, duration, utc, when } from './format.js';
import { html, type SafeHtml } from '../html/html.js';

const outcomeState: Record<JobRunRecord['outcome'], string> = {
  ok: 'ok',
  skipped: 'skipped',
  failed: 'failed',
};

/**
 * The status poll keeps no job history of its own, but its set-status record says when it last
 * ran: shown as its row so the page never claims it has not run.
 */
function pollRow(lastPoll: LastPoll | undefined, now: Date): SafeHtml | '' {
  if (!lastPoll) return '';
  return html`<tr>
    <th scope="row">statusPoll</th>
    <td>
      <span class="label">Last run</span>${when(lastPoll.at, now)}<br /><small
        >${utc(lastPoll.at)}</small
      >
    </td>
    <td>
      <span class="label">Outcome</span>
      ${lastPoll.problems > 0 ? badge('failed', `${lastPoll.problems} problem(s)`) : badge('ok')}
    </td>
    <td><span class="label">Took</span></td>
    <td>
      <span class="label">Summary</span> Last recorded set status (from the poll's own record)<br /><small
        >on ${lastPoll.instance}</small
      >
    </td>
  </tr>`;
}

export interface LastPoll {
  at: string;
  instance: string;
  problems: number;
}

/**
 * The job's own outcome, except that a promotion job that ran fine while a promotion was blocked
 * says so as a warning (the job worked; the promotion did not happen).
 */
function outcome(j: JobRunRecord, promotionWarnings: readonly string[]): SafeHtml {
  if (j.job === 'scheduledPromotion' && j.outcome === 'ok' && promotionWarnings.length > 0)
    return html`${badge('warning', `${promotionWarnings.length} blocked`)}<br /><small
        ><a href="#promotions">${promotionWarnings.join(', ')}</a> did not run</small
      >`;
  return badge(outcomeState[j.outcome] ?? j.outcome, j.outcome);
}

export function renderJobs(
  jobs: JobRunRecord[],
  now: Date,
  lastPoll?: LastPoll,
  promotionWarnings: readonly string[] = [],
): SafeHtml {
  const poll = jobs.some((j) => j.job === 'statusPoll') ? '' : pollRow(lastPoll, now);
  if (jobs.length === 0 && poll === '')
    return html`<p class="empty">
      No timer job has run yet. They run on their schedules (the status poll every minute).
    </p>`;
  return html`<div class="scroll">
    <table class="stack">
      <thead>
        <tr>
          <th scope="col">Job</th>
          <th scope="col">Last run</th>
          <th scope="col">Outcome</th>
          <th scope="col">Took</th>
          <th scope="col">Summary</th>
        </tr>
      </thead>
      <tbody>
        ${jobs.map(
          (j) =>
            html`<tr>
              <th scope="row">${j.job}</th>
              <td>
                <span class="label">Last run</span> ${when(j.startedAt, now)}<br /><small
                  >${utc(j.startedAt)}${j.isPastDue ? ' · late (past due)' : ''}</small
                >
              </td>
              <td>
                <span class="label">Outcome</span>
                ${outcome(j, promotionWarnings)}${j.outcome === 'skipped' ? html`<br /><small>another instance ran it</small>` : ''}
              </td>
              <td><span class="label">Took</span>${duration(j.durationMs)}</td>
              <td>
                <span class="label">Summary</span>${j.summary}<br /><small>on ${j.instance}</small>
              </td>
            </tr>`,
        )}${poll}
      </tbody>
    </table>
  </div>`;
}
