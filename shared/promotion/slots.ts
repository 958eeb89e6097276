// Due slots of a promotion's cron in its IANA zone, computed in code (Linux timers are UTC only).
import { parseCron } from '../config/coordination/common.js';

/** The most slots looked at in one pass; a long outage reports the rest as a count. */
export const maxSlotsPerPass = 200;

/**
 * The cron's occurrences after `after` (exclusive) up to `until` (inclusive), as UTC instants.
 * Each local wall-clock time occurs once: in the repeated autumn hour it fires once, and a time
 * that does not exist in spring (the skipped hour) fires at the same offset after the gap.
 */
export function cronSlots(
  cron: string,
  zone: string,
  after: Date,
  until: Date,
  limit = maxSlotsPerPass,
): Date[] {
  const schedule = parseCron(cron, zone);
  const out: Date[] = [];
  let cursor: Date | null = after;
  while (out.length < limit) {
    cursor = schedule.nextRun(cursor);
    if (!cursor || cursor.getTime() > until.getTime()) break;
    if (out.length === 0 || out[out.length - 1]?.getTime() !== cursor.getTime()) out.push(cursor);
  }
  return out;
}

export interface SlotSorting {
  /** Inside the catch-up window: run them (oldest first). */
  due: Date[];
  /** Older than the window: record as missed and report, never run. */
  missed: Date[];
}

/** Split slots at `now - catchUpMinutes`: a slot exactly at the edge still runs. */
export function sortSlots(slots: readonly Date[], now: Date, catchUpMinutes: number): SlotSorting {
  const edge = now.getTime() - catchUpMinutes * 60_000;
  return {
    due: slots.filter((s) => s.getTime() >= edge && s.getTime() <= now.getTime()),
    missed: slots.filter((s) => s.getTime() < edge),
  };
}

/** A slot's key part: UTC, minute precision (seconds only when the cron uses them), e.g. 2026-11-21T18:00Z. */
export function slotKey(slot: Date): string {
  const iso = slot.toISOString();
  const seconds = iso.slice(17, 19);
  return seconds === '00' ? `${iso.slice(0, 16)}Z` : `${iso.slice(0, 19)}Z`;
}
