// The lock around every coordinator job: try once, renew in the background, abort when lost, release.
import type { Runtime } from '../runtime/runtime.js';
import { LeaseLostError, isLockError } from './errors.js';
import { holderMarginMs, minJobTtlSeconds, renewIntervalMs } from './expiry.js';
import type { LeaseLocks } from './leaseLock.js';
import { locksFor } from './runtimeLocks.js';

export interface JobLease {
  /** Strictly increasing per lock: store it with what the job writes, and refuse writes carrying an older one. */
  fence: number;
  leaseId: string;
  /** Aborted (reason: LeaseLostError) as soon as the lease is lost or can no longer be trusted. */
  signal: AbortSignal;
  /** Touch the lease conditionally now; throws LeaseLostError if it is gone. Call before an irreversible step. */
  assertHeld(): Promise<void>;
}

export type JobLockResult<T> = { ran: true; value: T } | { ran: false; heldBy: string | undefined };

/** The lock name of a job (visible in GET /api/locks). */
export const jobLockName = (jobName: string): string => `job/${jobName}`;

const defaultJobTtlSeconds = 60;

/**
 * Run `fn` under the job's lock if nobody holds it (a try-lock: never waits). While `fn` runs the
 * lease is renewed every ttl/3; if a renewal finds it gone, or none succeeds before the local
 * countdown (ttl − margin, see expiry.ts) runs out, `lease.signal` aborts. Released at the end.
 */
export async function withJobLock<T>(
  runtime: Runtime,
  jobName: string,
  options: { ttlSeconds?: number },
  fn: (lease: JobLease) => Promise<T>,
): Promise<JobLockResult<T>> {
  return runUnderLease(
    locksFor(runtime),
    jobLockName(jobName),
    runtime.instanceId,
    options.ttlSeconds ?? defaultJobTtlSeconds,
    fn,
  );
}

/** withJobLock on a given lock service (tests, benchmarks). */
export async function runUnderLease<T>(
  locks: LeaseLocks,
  lockName: string,
  holder: string,
  ttlSeconds: number,
  fn: (lease: JobLease) => Promise<T>,
): Promise<JobLockResult<T>> {
  if (ttlSeconds < minJobTtlSeconds) {
    throw new RangeError(
      `ttlSeconds of the job lock "${lockName}" is ${ttlSeconds}; it must be at least ${minJobTtlSeconds}: ` +
        `the holder stops trusting its lease ${holderMarginMs(ttlSeconds) / 1000} s before storage ends it, so a shorter lease could never be used.`,
    );
  }
  const started = performance.now();
  const result = await locks.acquire(lockName, {
    holder,
    ttlSeconds,
    queue: false,
    requestId: crypto.randomUUID(),
  });
  if (!result.granted) return { ran: false, heldBy: result.heldBy[0] };
  const keeper = new LeaseKeeper(
    locks,
    lockName,
    result.leaseId,
    result.fence,
    ttlSeconds,
    started,
  );
  try {
    return { ran: true, value: await fn(keeper.lease) };
  } finally {
    keeper.stop();
    // If this fails the lease simply expires after its TTL.
    await locks.release(lockName, result.leaseId).catch(() => undefined);
  }
}

class LeaseKeeper {
  private readonly controller = new AbortController();
  private deadlineTimer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private renewing: Promise<void> | undefined;
  readonly lease: JobLease;

  constructor(
    private readonly locks: LeaseLocks,
    private readonly lockName: string,
    leaseId: string,
    fence: number,
    private readonly ttlSeconds: number,
    countdownStart: number,
  ) {
    this.lease = {
      fence,
      leaseId,
      signal: this.controller.signal,
      assertHeld: () => this.assertHeld(leaseId),
    };
    this.setDeadline(countdownStart);
    this.scheduleRenewal(leaseId, renewIntervalMs(ttlSeconds));
  }

  private lose(message: string): void {
    if (!this.controller.signal.aborted) this.controller.abort(new LeaseLostError(message));
    this.stop();
  }

  /** The lease is trusted until `sentAt + ttl − margin` (sentAt: before the write that set its base time). */
  private setDeadline(sentAt: number): void {
    if (this.stopped) return;
    clearTimeout(this.deadlineTimer);
    const deadline = sentAt + this.ttlSeconds * 1000 - holderMarginMs(this.ttlSeconds);
    this.deadlineTimer = setTimeout(
      () =>
        this.lose(
          `The lease on "${this.lockName}" could not be renewed before it ran out; another instance may hold it now.`,
        ),
      Math.max(0, deadline - performance.now()),
    );
    this.deadlineTimer.unref();
  }

  private scheduleRenewal(leaseId: string, delayMs: number): void {
    if (this.stopped) return;
    this.renewTimer = setTimeout(() => {
      void this.renewOnce(leaseId).then(
        () => this.scheduleRenewal(leaseId, renewIntervalMs(this.ttlSeconds)),
        () => this.scheduleRenewal(leaseId, Math.min(2000, renewIntervalMs(this.ttlSeconds) / 3)),
      );
    }, delayMs);
    this.renewTimer.unref();
  }

  /** Renew now; resolves when renewed, rejects with LeaseLostError if lost, or with the storage error. */
  private renewOnce(leaseId: string): Promise<void> {
    this.renewing ??= (async () => {
      const sentAt = performance.now();
      try {
        await this.locks.renew(this.lockName, leaseId, this.ttlSeconds);
        if (!this.controller.signal.aborted) this.setDeadline(sentAt);
      } catch (err) {
        if (isLockError(err, 'not_holder')) {
          this.lose(err.message);
          throw new LeaseLostError(err.message);
        }
        throw err;
      } finally {
        this.renewing = undefined;
      }
    })();
    return this.renewing;
  }

  private async assertHeld(leaseId: string): Promise<void> {
    const reason: unknown = this.controller.signal.reason;
    if (this.controller.signal.aborted)
      throw reason instanceof Error ? reason : new LeaseLostError(String(reason));
    // A touch that starts now: a background renewal already in flight was sent before this call, so
    // its answer is no evidence about now. Let it finish, then renew afresh.
    if (this.renewing) await this.renewing.catch(() => undefined);
    await this.renewOnce(leaseId);
    if (this.controller.signal.aborted) {
      const lost: unknown = this.controller.signal.reason;
      throw lost instanceof Error ? lost : new LeaseLostError(String(lost));
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.deadlineTimer);
    clearTimeout(this.renewTimer);
  }
}
