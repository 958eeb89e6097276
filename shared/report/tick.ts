// The daily report with the runtime's ports: build it for a date, its link, and the timer's tick.
import { withJobLock } from '../locks/jobLock.js';
import type { Runtime } from '../runtime/runtime.js';
import { buildDailyReport, type BuildOptions } from './buildReport.js';
import {
  ATTEMPT_LEASE_MS,
  runDailyReportTick,
  type JobLock,
  type SlotResult,
} from './dailyReportJob.js';
import type { LocalDate } from '../time/zones.js';
import { describeScope } from './gather.js';
import type { DailyReport } from './model.js';
import { reportSources } from './sources.js';

/** The report of one local date in a zone (default the configured report zone), read from Octopus. */
export function buildReportFor(
  runtime: Runtime,
  date: LocalDate,
  zone?: string,
  options: BuildOptions = {},
): Promise<DailyReport> {
  return buildDailyReport(
    reportSources(runtime),
    date,
    zone ?? runtime.settings.report.timeZone,
    options,
  );
}

/** Where the full report of a date can be opened (needs a function key in Azure). */
export function fullReportUrl(runtime: Runtime, date: LocalDate): string | undefined {
  const base = runtime.settings.publicUrl?.replace(/\/+$/, '');
  return base ? `${base}/api/reports/daily?date=${date}` : undefined;
}

export interface TickOptions {
  lock?: JobLock;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

/** One timer tick with the runtime's ports; does nothing when the config has no report section. */
export async function dailyReportTick(
  runtime: Runtime,
  options: TickOptions = {},
): Promise<SlotResult[] | 'not-configured'> {
  const report = runtime.config.report;
  if (!report) return 'not-configured';
  const sources = reportSources(runtime);
  const zone = runtime.settings.report.timeZone;
  return runDailyReportTick({
    tables: runtime.tables,
    mailer: runtime.mailer,
    clock: runtime.clock,
    zone,
    sendTime: runtime.settings.report.sendTime,
    catchUpWindowMinutes: runtime.settings.catchUpWindowMinutes,
    recipients: report.recipients,
    owner: runtime.instanceId,
    scope: describeScope(sources.scope),
    build: (date, previous) =>
      buildDailyReport(sources, date, zone, { previous: previous ?? 'read' }),
    fullReportUrl: (date) => fullReportUrl(runtime, date),
    secrets: runtime.settings.secrets,
    // So two instances never build at once; exactly-once itself comes from the slot row.
    lock:
      options.lock ??
      ((fn) =>
        withJobLock(runtime, 'dailyReport', { ttlSeconds: ATTEMPT_LEASE_MS / 1000 }, () => fn())),
    ...(options.log ? { log: options.log } : {}),
  });
}
