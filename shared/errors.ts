// Errors the coordinator's own code throws when a request cannot be served. Each carries a kind
// (what went wrong, which shared/http/handler.ts maps to an HTTP status in one place) and a stable
// code that callers and API clients branch on. Domain code throws these, never HTTP errors.

/** invalid: 400 · not_found: 404 · conflict: 409 · too_many: 429 · upstream: 502 · unavailable: 503. */
export type ErrorKind =
  'invalid' | 'not_found' | 'conflict' | 'too_many' | 'upstream' | 'unavailable';

export class CoordinatorError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'CoordinatorError';
  }
}
