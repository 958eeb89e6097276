// Lease locks and semaphores on Table Storage: the one locking mechanism of the coordinator.
export {
  LeaseLocks,
  defaultWaiterTtlSeconds,
  poolPartition,
  type AcquireAnyResult,
  type AcquireResult,
  type ForceReleaseResult,
  type EndedTaskLookup,
  type Grant,
  type LeaseLocksOptions,
  type LeaveResult,
  type NotGranted,
  type ReleaseResult,
} from './leaseLock.js';
export type { AcquireOptions, LeaveOptions } from './leaseRequest.js';
export type { Deadlock, HolderView, LockSummary, LockView, WaiterView } from './lockViews.js';
export { findDeadlocks } from './lockViews.js';
export { LockReadStats } from './snapshot.js';
export { maxTtlSeconds } from './limits.js';
export { maxPermits } from './acquireDecision.js';
export { LockError, LeaseLostError, isLockError, type LockErrorCode } from './errors.js';
export { expiryGraceMicros, holderMarginMs, minJobTtlSeconds, renewIntervalMs } from './expiry.js';
export {
  findOverlaps,
  pruneHistory,
  readHistory,
  type GrantRecord,
  type Overlap,
  type OverlapReport,
} from './history.js';
export { fencedWrite, fenceProperty, type FencedWriteOutcome } from './fencedWrite.js';
export {
  jobLockName,
  runUnderLease,
  withJobLock,
  type JobLease,
  type JobLockResult,
} from './jobLock.js';
export {
  defaultLockHistoryDays,
  locksFor,
  octopusEndedTasks,
  pruneLockHistory,
  releaseLeasesOfEndedTasks,
} from './runtimeLocks.js';
export { lockHistoryTableName, locksTableName, maxPriority } from './rows.js';
export { LockWakeups } from './wakeups.js';
