// Local wall-clock times in an IANA zone as UTC instants (for freeze windows), without a date library.

const formatters = new Map<string, Intl.DateTimeFormat>();

function offsetMinutes(instant: number, zone: string): number {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(instant))
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  const asUtc = Date.UTC(
    p.year ?? 0,
    (p.month ?? 1) - 1,
    p.day ?? 1,
    p.hour ?? 0,
    p.minute ?? 0,
    p.second ?? 0,
  );
  return Math.round((asUtc - Math.floor(instant / 1000) * 1000) / 60_000);
}

/**
 * `2026-12-24` or `2026-12-24T18:00[:ss]` read in `zone`, as a UTC instant. A local time in the
 * spring gap maps to the instant after the gap; in the repeated autumn hour, to the first one.
 */
export function localToInstant(local: string, zone: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(local);
  if (!m) throw new Error(`"${local}" is not a local date or date-time such as 2026-12-24T18:00`);
  const naive = Date.UTC(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4] ?? 0),
    Number(m[5] ?? 0),
    Number(m[6] ?? 0),
  );
  // Try the offsets in force around that wall time; pick the earliest instant that reads as it.
  const candidates = [naive - 36e5 * 14, naive, naive + 36e5 * 14].map(
    (probe) => naive - offsetMinutes(probe, zone) * 60_000,
  );
  const exact = candidates
    .filter((c) => c - naive === -offsetMinutes(c, zone) * 60_000)
    .sort((a, b) => a - b);
  if (exact[0] !== undefined) return new Date(exact[0]);
  // In the spring gap: the wall time does not exist; use the offset from before the gap.
  return new Date(naive - offsetMinutes(naive - 36e5 * 12, zone) * 60_000);
}
