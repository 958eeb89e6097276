// Lease locks and semaphores on Table Storage: the one locking mechanism of the coordinator.
export {
  LeaseLocks,
  maxTtlSeconds,
  type AcquireOptions,
  type AcquireResult,
  type EndedTaskLookup,
  type Grant,
  type HolderView,
  type LeaseLocksOptions,
  type LockSummary,
  type LockView,
  type NotGranted,
  type ReleaseResult,
  type WaiterView,
} from './leaseLock.js';
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
export { locksTableName, maxPriority } from './rows.js';
export { LockWakeups } from './wakeups.js';
