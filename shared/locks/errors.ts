// Lock errors that callers branch on; each knows its HTTP answer (409, 429, 503, 400).
import type { HttpMappable } from '../http/handler.js';

export type LockErrorCode =
  | 'permits_mismatch'
  | 'not_holder'
  | 'holds_lease'
  | 'queue_full'
  | 'lock_busy'
  | 'invalid_lease_id'
  | 'task_ended';

const statusOf: Record<LockErrorCode, number> = {
  permits_mismatch: 409,
  not_holder: 409,
  holds_lease: 409,
  queue_full: 429,
  lock_busy: 503,
  invalid_lease_id: 400,
  task_ended: 409,
};

export class LockError extends Error implements HttpMappable {
  override readonly name = 'LockError';
  constructor(
    readonly code: LockErrorCode,
    message: string,
  ) {
    super(message);
  }

  get status(): number {
    return statusOf[this.code];
  }

  toHttp(): { status: number; code: string; message: string } {
    return { status: this.status, code: this.code, message: this.message };
  }
}

export function isLockError(err: unknown, code?: LockErrorCode): err is LockError {
  return err instanceof LockError && (code === undefined || err.code === code);
}

/** Thrown by `JobLease.assertHeld()` and seen as `signal.reason` when a job's lease is gone. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}
