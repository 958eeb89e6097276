// The status poll as a job: under its job lock, so a run that overlaps another is skipped, not doubled.
import { withJobLock } from '../locks/jobLock.js';
import type { Log } from '../runtime/log.js';
import type { Runtime } from '../runtime/runtime.js';
import { pollOnce, type PollResult } from './poll.js';

export const statusPollJob = 'statusPoll';
/**
 * Short, and renewed every ttl/3 while the poll runs (withJobLock), so a poll may take as long as it
 * needs while a crashed poll's lease ends within this many seconds: the next timer tick on any
 * instance (each minute) then polls, instead of every instance skipping for minutes.
 */
export const statusPollLockSeconds = 15;

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
