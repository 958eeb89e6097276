// The status poll as a job: under its job lock, so a run that overlaps another is skipped, not doubled.
import { withJobLock } from '../locks/index.js';
import type { Log } from '../runtime/log.js';
import type { Runtime } from '../runtime/runtime.js';
import { pollOnce, type PollResult } from './poll.js';

export const statusPollJob = 'statusPoll';
/** Longer than any poll should take; a crashed poll's lock frees itself after this. */
export const statusPollLockSeconds = 300;

export type StatusPollOutcome = PollResult | { ran: false; heldBy: string };

export async function runStatusPoll(runtime: Runtime, log: Log): Promise<StatusPollOutcome> {
  const locked = await withJobLock(
    runtime,
    statusPollJob,
    { ttlSeconds: statusPollLockSeconds },
    () => pollOnce(runtime, log),
  );
  if (!locked.ran) {
    const heldBy = locked.heldBy ?? 'another instance';
    log.info(`Status poll skipped: another poll holds its job lock (${heldBy}).`);
    return { ran: false, heldBy };
  }
  return locked.value;
}
