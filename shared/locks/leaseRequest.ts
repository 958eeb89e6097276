// An acquire request as callers give it, checked and filled with defaults; lease ids and TTLs as callers pass them.
import { maxPermits, type AcquireRequest } from './acquireDecision.js';
import { LockError } from './errors.js';
import { maxTtlSeconds } from './limits.js';
import { maxPriority, parseLeaseId } from './rows.js';

export interface AcquireOptions {
  /** Who asks, for people reading the lock's state (e.g. "Deploy web to prod, task ServerTasks-12 on web01"). */
  holder: string;
  /** N (1 = a mutex). Everyone using a lock must agree; omit to use the stored value (1 for a new lock). */
  permits?: number;
  /** Lease length (default 60 s, 1 s to 1 day). */
  ttlSeconds?: number;
  /** Bind the lease to this Octopus task: it is freed as soon as the task ends. */
  octopusTaskId?: string;
  /** 0..9, higher first (default 0); FIFO within a priority. */
  priority?: number;
  /** Identifies this acquire across retries; defaults to `holder`. */
  requestId?: string;
  /** Join the queue when not granted (default true); false is a try-lock. */
  queue?: boolean;
}

export const defaultTtlSeconds = 60;

export function checkTtl(ttlSeconds: number): number {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > maxTtlSeconds) {
    throw new RangeError(`ttlSeconds must be a whole number from 1 to ${maxTtlSeconds}`);
  }
  return ttlSeconds;
}

export function parseLease(leaseId: string): { fence: number; secret: string } {
  const lease = parseLeaseId(leaseId);
  if (!lease) {
    throw new LockError(
      'invalid_lease_id',
      'leaseId: not a lease id of this coordinator (expected "<fence>.<24 hex digits>" as returned by acquire).',
    );
  }
  return lease;
}

export function normalizeRequest(options: AcquireOptions): AcquireRequest {
  const priority = options.priority ?? 0;
  if (!Number.isInteger(priority) || priority < 0 || priority > maxPriority) {
    throw new RangeError(`priority must be a whole number from 0 to ${maxPriority}`);
  }
  if (
    options.permits !== undefined &&
    (!Number.isInteger(options.permits) || options.permits < 1 || options.permits > maxPermits)
  ) {
    throw new RangeError(`permits must be a whole number from 1 to ${maxPermits}`);
  }
  return {
    holder: options.holder,
    requestKey: options.requestId ?? options.holder,
    permits: options.permits,
    ttlSeconds: checkTtl(options.ttlSeconds ?? defaultTtlSeconds),
    octopusTaskId: options.octopusTaskId,
    priority,
    queue: options.queue ?? true,
  };
}
