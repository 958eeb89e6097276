// Calendar days in an IANA time zone as UTC instants: 23-, 24- and 25-hour days, local send times.
import { addDays, isTimeZone, localDateOf, localTimeOf, type LocalDate } from '../time/zones.js';

export interface DayWindow {
  date: LocalDate;
  zone: string;
  /** First instant of the local day (inclusive). */
  start: Date;
  /** First instant of the next local day (exclusive). */
  end: Date;
  /** Length of the day in whole hours: 23 or 25 on DST changes, else 24. */
  hours: number;
}

export class ReportDateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReportDateError';
  }
}

/** First instant whose local date is `date` (midnight, or the end of a gap over midnight). */
function startOfLocalDay(date: LocalDate, zone: string): number {
  const [y, m, d] = date.split('-').map(Number);
  const wall = Date.UTC(y ?? 0, (m ?? 1) - 1, d ?? 1);
  // Zones are within UTC-12..UTC+14; search that span for the first instant of the date.
  let lo = wall - 15 * 3_600_000;
  let hi = wall + 13 * 3_600_000;
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (localDateOf(mid, zone) >= date) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The window of one local calendar day. */
export function dayWindow(date: LocalDate, zone: string): DayWindow {
  const start = startOfLocalDay(date, zone);
  const end = startOfLocalDay(addDays(date, 1), zone);
  return {
    date,
    zone,
    start: new Date(start),
    end: new Date(end),
    hours: Math.round((end - start) / 3_600_000),
  };
}

/** Checks a `YYYY-MM-DD` date given by a person; throws ReportDateError saying how to fix it. */
export function parseReportDate(text: string): LocalDate {
  const trimmed = text.trim();
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(trimmed);
  if (!match) {
    throw new ReportDateError(
      `"${text}" is not a date: write it as YYYY-MM-DD, for example 2026-11-20.`,
    );
  }
  const [, y, m, d] = match;
  const t = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)));
  if (t.toISOString().slice(0, 10) !== trimmed) {
    throw new ReportDateError(
      `${trimmed} is not a day of the calendar: check the month and day (YYYY-MM-DD).`,
    );
  }
  return trimmed;
}

/** Checks an IANA zone name given by a person; throws ReportDateError saying how to fix it. */
export function parseTimeZone(zone: string): string {
  const trimmed = zone.trim();
  if (trimmed === '' || !isTimeZone(trimmed)) {
    throw new ReportDateError(
      `"${zone}" is not a time zone this system knows: use an IANA name such as Europe/Berlin, America/New_York or UTC.`,
    );
  }
  return trimmed;
}

/** Labels for the hours of a day window, in local time (a 25-hour day shows the repeated hour twice). */
export function hourLabels(window: DayWindow): string[] {
  const labels: string[] = [];
  for (let i = 0; i < window.hours; i++) {
    labels.push(localTimeOf(window.start.getTime() + i * 3_600_000, window.zone).slice(0, 2));
  }
  return labels;
}
