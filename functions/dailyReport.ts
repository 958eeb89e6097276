import { app } from '@azure/functions';
import { timerJob } from '../shared/jobs/timerJob.js';

/**
 * Hourly by default (DAILY_REPORT_SCHEDULE, UTC): sends yesterday's report once REPORT_SEND_TIME has
 * come in REPORT_TIME_ZONE. Each day is claimed in Table Storage, so extra or late runs send nothing twice.
 */
export const dailyReport = timerJob(
  'dailyReport',
  async (runtime, log, timer) => {
    // Loaded on first run, not at start (cold start).
    const { dailyReportTick } = await import('../shared/report/tick.js');
    const results = await dailyReportTick(runtime, {
      log: (level, message) => log[level](message),
    });
    if (results === 'not-configured') {
      return { outcome: 'skipped', summary: 'the coordination config has no "report" section' };
    }
    const summary = results
      .map((r) => `${r.date}: ${r.outcome}${r.detail ? ` (${r.detail})` : ''}`)
      .join('; ');
    return {
      outcome: 'ok',
      summary: `${summary || 'nothing due'}${timer.isPastDue ? ' [past due run]' : ''}`,
    };
  },
  ['OCTOPUS_API_KEY', 'SENDGRID_API_KEY'],
);

app.timer('dailyReport', { schedule: '%DAILY_REPORT_SCHEDULE%', handler: dailyReport });
