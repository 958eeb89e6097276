import { app, type InvocationContext, type Timer } from '@azure/functions';
import { dailyReportTick } from '../shared/report/index.js';
import { getRuntime } from '../shared/runtime/runtime.js';

/**
 * Hourly by default (DAILY_REPORT_SCHEDULE, UTC): sends yesterday's report once REPORT_SEND_TIME has
 * come in REPORT_TIME_ZONE. Each day is claimed in Table Storage, so extra or late runs send nothing twice.
 */
export async function dailyReport(timer: Timer, context: InvocationContext): Promise<void> {
  const runtime = await getRuntime();
  const results = await dailyReportTick(runtime, {
    log: (level, message) => context[level](message),
  });
  if (results === 'not-configured') {
    context.log(
      'Daily report: the coordination config has no "report" section, so no report is sent.',
    );
    return;
  }
  for (const r of results) {
    context.log(
      `Daily report ${r.date}: ${r.outcome}${r.detail ? ` (${r.detail})` : ''}${timer.isPastDue ? ' [past due run]' : ''}`,
    );
  }
}

app.timer('dailyReport', { schedule: '%DAILY_REPORT_SCHEDULE%', handler: dailyReport });
