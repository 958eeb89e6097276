// The one error type of the Octopus client: what failed, Octopus's own explanation, and whether to retry.
import { inspect } from 'node:util';
import { redactSecrets } from '../redact.js';

export type OctopusErrorCode =
  | 'HttpError' // Octopus answered with a non-2xx status
  | 'Timeout' // no complete answer within the per-request timeout
  | 'NetworkError' // connection refused, reset, DNS failure, ...
  | 'InvalidResponse' // a 2xx answer that is not the JSON we expected (e.g. a proxy's HTML page)
  | 'NameNotFound' // a project/environment/tenant/space name from config matches nothing
  | 'CreateUnconfirmed' // a create failed ambiguously and could not be checked
  | 'InvalidRequest'; // the client refused to send a request that cannot succeed

export interface OctopusErrorInit {
  code: OctopusErrorCode;
  message: string;
  method: string;
  path: string;
  status?: number;
  errorMessage?: string;
  errors?: string[];
  retryable?: boolean;
  retryAfterMs?: number;
}

/**
 * A failed Octopus call. Branch on `status` and `code`, never on the message text.
 * Carries no request headers, so the API key cannot leak through it.
 */
export class OctopusError extends Error {
  override readonly name = 'OctopusError';
  readonly code: OctopusErrorCode;
  /** HTTP status, or undefined when there was no HTTP answer. */
  readonly status: number | undefined;
  readonly method: string;
  /** Request path without the query string. */
  readonly path: string;
  /** Octopus's `ErrorMessage`, when the body had one. */
  readonly errorMessage: string | undefined;
  /** Octopus's `Errors` (validation problems), possibly empty. */
  readonly errors: string[];
  /** True when trying again later may succeed (408, 429, 5xx, timeouts, network errors). */
  readonly retryable: boolean;
  /** How long the server asked us to wait (`Retry-After`), when it said. */
  readonly retryAfterMs: number | undefined;

  constructor(init: OctopusErrorInit) {
    super(redactSecrets(init.message));
    this.code = init.code;
    this.status = init.status;
    this.method = init.method;
    this.path = redactSecrets(init.path);
    this.errorMessage =
      init.errorMessage === undefined ? undefined : redactSecrets(init.errorMessage);
    this.errors = (init.errors ?? []).map((e) => redactSecrets(e));
    this.retryable = init.retryable ?? false;
    this.retryAfterMs = init.retryAfterMs;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      status: this.status,
      method: this.method,
      path: this.path,
      errorMessage: this.errorMessage,
      errors: this.errors,
      retryable: this.retryable,
      retryAfterMs: this.retryAfterMs,
    };
  }

  [inspect.custom](): string {
    return `OctopusError ${inspect(this.toJSON())}`;
  }
}

export function isOctopusError(e: unknown): e is OctopusError {
  return e instanceof OctopusError;
}
