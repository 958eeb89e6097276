// When a day's report is due: the local send time in the report's zone, read on a UTC timer.
import { addDays, instantOfLocal, localDateOf, type LocalDate } from '../time/zones.js';

export interface ReportSlot {
  /** The day the report covers. */
  date: LocalDate;
  /** When it is due: the send time on the next local day. */
  dueAt: Date;
}

export function slotFor(date: LocalDate, zone: string, sendTime: string): ReportSlot {
  return { date, dueAt: instantOfLocal(addDays(date, 1), sendTime, zone) };
}

/**
 * Slots that are due at `now` and at most `lookbackMs` old, oldest first. Yesterday's report is
 * due at today's send time; the day before's is still considered for late retries.
 */
export function dueSlots(
  now: Date,
  zone: string,
  sendTime: string,
  lookbackMs: number,
): ReportSlot[] {
  const today = localDateOf(now, zone);
  const slots: ReportSlot[] = [];
  for (const back of [2, 1]) {
    const slot = slotFor(addDays(today, -back), zone, sendTime);
    const age = now.getTime() - slot.dueAt.getTime();
    if (age >= 0 && age <= lookbackMs) slots.push(slot);
  }
  return slots;
}
