// Wall-clock time in IANA zones without a date library: the one place that converts between
// instants and local readings (reports, promotions, freeze windows, settings checks).

/** `YYYY-MM-DD` */
export type LocalDate = string;

export interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

let knownZones: ReadonlySet<string> | undefined;

/** True when this runtime knows the IANA zone name. */
export function isTimeZone(zone: string): boolean {
  // Fast path (cold start: the settings check this on the first request): the first DateTimeFormat
  // with a zone costs about 10 ms of CPU, the list of canonical zones about 1 ms. Every zone in the
  // list, and UTC, is one DateTimeFormat accepts; anything else (aliases, other spellings) is asked
  // of DateTimeFormat as before, so the answer is the same.
  knownZones ??= new Set(Intl.supportedValuesOf('timeZone'));
  if (zone === 'UTC' || knownZones.has(zone)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
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
 * The instant a local wall-clock time (`HH:MM` or `HH:MM:SS`) happens in a zone. A time skipped by
 * a DST change (02:30 on a spring-forward night) maps to the instant just after the gap, as clocks
 * do; a time that happens twice (the repeated autumn hour) maps to the first of the two.
 */
export function instantOfLocal(date: LocalDate, time: string, zone: string): Date {
  const [y, m, d] = date.split('-').map(Number);
  const [hh = 0, mm = 0, ss = 0] = time.split(':').map(Number);
  const wall = Date.UTC(y ?? 0, (m ?? 1) - 1, d ?? 1, hh, mm, ss);
  // Every offset in force within a day of that wall time gives a candidate; keep those that read back.
  const offsets = new Set([-14, -7, 0, 7, 14].map((h) => offsetAt(wall + h * 3_600_000, zone)));
  const exact = [...offsets]
    .map((offset) => wall - offset)
    .filter((t) => {
      const p = localParts(t, zone);
      return p.hour === hh && p.minute === mm && p.second === ss && localDateOf(t, zone) === date;
    })
    .sort((a, b) => a - b);
  if (exact[0] !== undefined) return new Date(exact[0]);
  // In a gap: the wall time does not exist; read it with the offset from before the gap.
  return new Date(wall - offsetAt(wall - 12 * 3_600_000, zone));
}

export function addDays(date: LocalDate, days: number): LocalDate {
  const [y, m, d] = date.split('-').map(Number);
  const t = new Date(Date.UTC(y ?? 0, (m ?? 1) - 1, (d ?? 1) + days));
  return t.toISOString().slice(0, 10);
}

const readableFormatters = new Map<string, Intl.DateTimeFormat>();

/**
 * An instant as people read it in a zone, with the zone's abbreviation: "Fri, 20 Nov 2026, 19:03 CET".
 * Text that is not a time is returned as given; no value gives ''.
 */
export function readableTime(
  instant: Date | string | number | null | undefined,
  zone: string,
): string {
  if (instant === null || instant === undefined || instant === '') return '';
  const d = instant instanceof Date ? instant : new Date(instant);
  if (Number.isNaN(d.getTime())) return String(instant);
  let f = readableFormatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone: zone,
      weekday: 'short',
      day: 'numeric',
      month: 'short',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'short',
    });
    readableFormatters.set(zone, f);
  }
  return f.format(d);
}
