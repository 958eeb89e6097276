// Builds the daily report for one local date: gather each space's day (and the day before), summarize.
import type { Clock } from '../clock.js';
import type { OctopusClient } from '../octopus/client.js';
import { addDays, type LocalDate } from '../time/zones.js';
import { dayWindow } from './dayWindow.js';
import {
  describeScope,
  gatherSpace,
  tallySpace,
  type GatherOptions,
  type ReportScope,
} from './gather.js';
import type { DailyReport, ReportDeployment, ReportTotals } from './model.js';
import { summarize, TotalsTally } from './summarize.js';

export interface ReportSources {
  /** The Octopus client of a space (name, slug or id). */
  clientFor(space: string): OctopusClient;
  scope: ReportScope;
  clock: Clock;
}

export interface BuildOptions extends Pick<GatherOptions, 'pageSize' | 'idsPerCall'> {
  /**
   * Totals of the day before, when already known (the job keeps them with each sent report);
   * `'read'` (default) reads them from Octopus, `'skip'` leaves the change out.
   */
  previous?: ReportTotals | 'read' | 'skip';
}

export async function buildDailyReport(
  sources: ReportSources,
  date: LocalDate,
  zone: string,
  options: BuildOptions = {},
): Promise<DailyReport> {
  const window = dayWindow(date, zone);
  const clients = sources.scope.spaces.map((space) => ({
    space,
    client: sources.clientFor(space),
  }));
  const before = new Map(clients.map(({ client }) => [client, client.calls.total]));
  const gather = { pageSize: options.pageSize, idsPerCall: options.idsPerCall };

  // The day before first, reduced to its totals before today's rows are read, so the two days'
  // rows are never held at once.
  let previous: ReportTotals | undefined;
  const wanted = options.previous ?? 'read';
  if (wanted === 'read') {
    const previousWindow = dayWindow(addDays(date, -1), zone);
    const tally = new TotalsTally();
    for (const { space, client } of clients)
      await tallySpace(client, space, previousWindow, sources.scope, tally, gather);
    previous = tally.totals();
  } else if (wanted !== 'skip') {
    previous = wanted;
  }

  const days: ReportDeployment[][] = [];
  const notes: string[] = [];
  for (const { space, client } of clients) {
    const day = await gatherSpace(client, space, window, sources.scope, gather);
    days.push(day.rows);
    notes.push(...day.notes);
  }
  // One space's rows as they are (no copy of a 50,000-row list); several joined in space order.
  const rows = days.length === 1 ? (days[0] ?? []) : days.flat();

  let calls = 0;
  for (const [client, total] of before) calls += client.calls.total - total;
  return summarize({
    window,
    rows,
    previous,
    scope: describeScope(sources.scope),
    notes: [...new Set(notes)],
    octopusCalls: calls,
    generatedAt: sources.clock.now(),
  });
}
