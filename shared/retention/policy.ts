// How long each kind of stored row is kept, and how much one status poll may delete: every figure in one place.

/** The defaults. A row is deleted only when it is older than its period and nothing still needs it. */
export const retentionDefaults = {
  /** Processed webhook events (their rows dedupe re-deliveries; Octopus re-sends within minutes). */
  processedEventDays: 30,
  /** Finished runs with no work left (no pending "run finished" email), counted from their finish. */
  finishedRunDays: 90,
  /** Job slot rows: daily report days, promotion slots, and the daily claims of the prunes. */
  jobSlotDays: 90,
  /** Ensure-deployed claims whose run has finished (the next call replaces them anyway). */
  ensureClaimDays: 7,
  /**
   * Release trains last touched (captured, standing, verified or interrupted) this long ago, unless
   * something may still take them: the newest verified train of each set × environment × tenant, a
   * train live somewhere, and any train an active run or a configured playbook names (shared/app/retention.ts).
   */
  trainDays: 90,
  /** At most this many rows deleted per status poll; the rest waits for the next poll. */
  maxDeletesPerPoll: 1000,
  /** At most this many rows read per status poll (candidates that turn out to be kept count too). */
  maxExaminedPerPoll: 5000,
  /** How long a poll's prune pass may hold the day's claim before another instance may continue. */
  passLeaseMinutes: 5,
} as const;

export type RetentionPolicy = { -readonly [K in keyof typeof retentionDefaults]: number };

/**
 * The promotion scheduler never looks at slots more than 7 days old (`maxLookbackMs` in
 * shared/promotion/schedule.ts) and the daily report at most 2 days back (`dueSlots`), so a slot row
 * older than this can never be claimed again: deleting it cannot make a slot run twice.
 */
export const slotLookbackDays = 7;

/** The least each period may be set to, whatever is asked for. */
export const retentionFloors = {
  processedEventDays: 1,
  jobSlotDays: slotLookbackDays + 1,
  ensureClaimDays: 1,
  trainDays: 1,
} as const;

/** The defaults with `overrides`, each period raised to its floor (and runs kept at least as long as events). */
export function retentionPolicy(overrides: Partial<RetentionPolicy> = {}): RetentionPolicy {
  const p: RetentionPolicy = { ...retentionDefaults, ...overrides };
  p.processedEventDays = Math.max(p.processedEventDays, retentionFloors.processedEventDays);
  // A rule's run id is derived from its event: the run must outlive the event row that dedupes it.
  p.finishedRunDays = Math.max(p.finishedRunDays, p.processedEventDays);
  p.jobSlotDays = Math.max(p.jobSlotDays, retentionFloors.jobSlotDays);
  p.ensureClaimDays = Math.max(p.ensureClaimDays, retentionFloors.ensureClaimDays);
  p.trainDays = Math.max(p.trainDays, retentionFloors.trainDays);
  p.maxDeletesPerPoll = Math.max(1, Math.floor(p.maxDeletesPerPoll));
  p.maxExaminedPerPoll = Math.max(p.maxDeletesPerPoll, Math.floor(p.maxExaminedPerPoll));
  return p;
}
