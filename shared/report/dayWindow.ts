// Calendar days in an IANA time zone as UTC instants: 23-, 24- and 25-hour days, local send times.

/** A local calendar date, `YYYY-MM-DD`. */
export type LocalDate = string;

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

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, f);
  }
  return f;
}

export interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The wall-clock reading of an instant in a zone. */
export function localParts(instant: Date | number, zone: string): LocalParts {
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(instant)) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 1,
    day: parts.day ?? 1,
    hour: (parts.hour ?? 0) % 24,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

export function localDateOf(instant: Date | number, zone: string): LocalDate {
  const p = localParts(instant, zone);
  return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}`;
}

/** `HH:MM` of an instant in a zone. */
export function localTimeOf(instant: Date | number, zone: string): string {
  const p = localParts(instant, zone);
  return `${pad(p.hour)}:${pad(p.minute)}`;
}

/** Offset of the zone from UTC at an instant, in milliseconds (east positive). */
function offsetAt(ms: number, zone: string): number {
  const p = localParts(ms, zone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - (ms - (((ms % 1000) + 1000) % 1000));
}

/**
 * The instant a local wall-clock time happens in a zone. A time skipped by a DST change
 * (02:30 on a spring-forward night) maps to the instant just after the gap, like clocks do.
 */
export function instantOfLocal(date: LocalDate, time: string, zone: string): Date {
  const [y, m, d] = date.split('-').map(Number);
  const [hh, mm] = time.split(':').map(Number);
  const wall = Date.UTC(y ?? 0, (m ?? 1) - 1, d ?? 1, hh ?? 0, mm ?? 0);
  let guess = wall - offsetAt(wall, zone);
  guess = wall - offsetAt(guess, zone);
  // In a gap the reading differs from the wall time asked for: take the later offset.
  const back = localParts(guess, zone);
  if (back.hour !== hh || back.minute !== mm) {
    const later = wall - offsetAt(guess + 3 * 3_600_000, zone);
    if (later > guess) guess = later;
  }
  return new Date(guess);
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

export function addDays(date: LocalDate, days: number): LocalDate {
  const [y, m, d] = date.split('-').map(Number);
  const t = new Date(Date.UTC(y ?? 0, (m ?? 1) - 1, (d ?? 1) + days));
  return t.toISOString().slice(0, 10);
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

export function isTimeZoneName(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Checks an IANA zone name given by a person; throws ReportDateError saying how to fix it. */
export function parseTimeZone(zone: string): string {
  const trimmed = zone.trim();
  if (trimmed === '' || !isTimeZoneName(trimmed)) {
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
    labels.push(pad(localParts(window.start.getTime() + i * 3_600_000, window.zone).hour));
  }
  return labels;
}
