// An acquire request as callers give it, checked and filled with defaults; lease ids and TTLs as callers pass them.
import { maxPermits, type AcquireRequest } from './acquireDecision.js';
import { LockError } from './errors.js';
import { maxTtlSeconds } from './limits.js';
import { maxPriority, parseLeaseId, type RequestIdentity } from './rows.js';

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
  /**
   * Identifies this acquire across retries: only a request with the same requestId gets its grant
   * (lease id included) or its place in the queue back. Without one, the holder name identifies the
   * request, and anyone who reads that name in the listings can take its grant or its place.
   */
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

/** Who leaves a queue: the requestId of the acquire that took the place, or its holder name when it gave none. */
export interface LeaveOptions {
  requestId?: string;
  holder?: string;
}

/** The identity rows of this request carry: its requestId if it gave one, else its holder name. */
export function requestIdentity(options: LeaveOptions): Required<RequestIdentity> {
  if (options.requestId !== undefined)
    return { requestKey: options.requestId, keyedBy: 'requestId' };
  if (options.holder !== undefined) return { requestKey: options.holder, keyedBy: 'holder' };
  throw new RangeError(
    'give the requestId of the request (or its holder when it gave no requestId)',
  );
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
    ...requestIdentity(options),
    permits: options.permits,
    ttlSeconds: checkTtl(options.ttlSeconds ?? defaultTtlSeconds),
    octopusTaskId: options.octopusTaskId,
    priority,
    queue: options.queue ?? true,
  };
}
