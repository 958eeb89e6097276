// Octopus's time formats: ISO 8601 with an offset, "hh:mm:ss" TimeSpans, prose durations.

export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+00:00');
}

export function isoOrNull(ms: number | undefined): string | null {
  return ms === undefined ? null : isoTime(ms);
}

/** Parses an ISO date-time; undefined when absent or unparseable. */
export function parseTime(value: unknown): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** "00:00:10" or "1.02:03:04.5" (TimeSpan) to milliseconds; undefined if not a TimeSpan. */
export function parseTimeSpan(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$/.exec(value.trim());
  if (!match) return undefined;
  const [, days, hours, minutes, seconds, fraction] = match;
  const fractionMs = fraction ? Number(`0.${fraction}`) * 1000 : 0;
  return (
    ((Number(days ?? 0) * 24 + Number(hours)) * 60 + Number(minutes)) * 60_000 +
    Number(seconds) * 1000 +
    Math.round(fractionMs)
  );
}

/** Octopus-style prose: "32 seconds", "1 minute", "2 hours". */
export function proseDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  const unit = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (seconds < 60) return unit(seconds, 'second');
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return unit(minutes, 'minute');
  const hours = Math.round(minutes / 60);
  if (hours < 48) return unit(hours, 'hour');
  return unit(Math.round(hours / 24), 'day');
}
