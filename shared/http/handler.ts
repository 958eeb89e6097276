// Wrap an HTTP handler: map thrown errors to JSON responses, log failures without secrets.
import type {
  HttpHandler,
  HttpRequest,
  HttpResponseInit,
  InvocationContext,
} from '@azure/functions';
import { redactSecrets } from '../config/settings.js';
import { CoordinatorError, type ErrorKind } from '../errors.js';
import { OctopusError } from '../octopus/errors.js';
import { EntityTooLargeError } from '../storage/limits.js';
import { errorResponse, HttpError } from './errors.js';

/** Errors that know their HTTP mapping (LockError) may implement this. */
export interface HttpMappable {
  toHttp(): { status: number; code: string; message: string };
}

function isHttpMappable(err: unknown): err is HttpMappable {
  return (
    typeof err === 'object' && err !== null && typeof (err as HttpMappable).toHttp === 'function'
  );
}

let secretsForRedaction: readonly string[] = [];
/** Set by the runtime once settings are loaded. */
export function setSecretsForRedaction(secrets: readonly string[]): void {
  secretsForRedaction = secrets;
}

const statusOfKind: Record<ErrorKind, number> = {
  invalid: 400,
  not_found: 404,
  conflict: 409,
  too_many: 429,
  upstream: 502,
  unavailable: 503,
};

/**
 * A failed Octopus call, as the API's caller should see it: a name Octopus does not have is the
 * caller's to fix (400 unknown_name, naming it and the known names, as POST /api/runs answers); a
 * path Octopus does not have is a 404; a refused key is the operator's (502); an Octopus that is
 * down or overloaded is worth a retry (503). Never a 500: the coordinator itself did not fail.
 */
function octopusErrorAnswer(err: OctopusError): {
  kind: ErrorKind;
  code: string;
  message: string;
  headers?: Record<string, string>;
} {
  const said = err.errorMessage ? ` Octopus said: ${err.errorMessage}` : '';
  if (err.code === 'NameNotFound')
    return { kind: 'invalid', code: 'unknown_name', message: err.message };
  if (err.code === 'InvalidRequest')
    return { kind: 'invalid', code: 'octopus_invalid_request', message: err.message };
  if (err.status === 401 || err.status === 403)
    return {
      kind: 'upstream',
      code: 'octopus_key_refused',
      message: `Octopus answered ${err.status} to ${err.method} ${err.path}: the coordinator's Octopus key is refused. Check OCTOPUS_API_KEY in the app settings (its user needs permission for this space).${said}`,
    };
  if (err.status === 404)
    return {
      kind: 'not_found',
      code: 'octopus_not_found',
      message: `Octopus has no ${err.path} (404 to ${err.method}).${said}`,
    };
  if (
    err.retryable ||
    err.status === 429 ||
    err.code === 'Timeout' ||
    err.code === 'NetworkError' ||
    err.code === 'CreateUnconfirmed'
  )
    return {
      kind: 'unavailable',
      code: 'octopus_unavailable',
      message: `Octopus could not be reached or is overloaded (${err.message}). Try again later.`,
      ...(err.retryAfterMs === undefined
        ? {}
        : { headers: { 'Retry-After': String(Math.ceil(err.retryAfterMs / 1000)) } }),
    };
  if (err.status !== undefined && err.status >= 400 && err.status < 500)
    return {
      kind: 'invalid',
      code: 'octopus_rejected',
      message: `Octopus refused ${err.method} ${err.path} (${err.status}).${said}${err.errors.length ? ` ${err.errors.join('; ')}` : ''}`,
    };
  return {
    kind: 'upstream',
    code: 'octopus_failed',
    message: `Octopus failed on ${err.method} ${err.path}: ${err.message}`,
  };
}

/** An unexpected error's stack (or text) for the log, with the app's secrets redacted. */
export function redactedError(err: unknown): string {
  return redactSecrets(
    err instanceof Error ? (err.stack ?? err.message) : String(err),
    secretsForRedaction,
  );
}

export function toErrorResponse(err: unknown, context?: InvocationContext): HttpResponseInit {
  if (err instanceof HttpError) {
    return errorResponse(err.status, err.code, err.message, err.details, err.headers);
  }
  if (err instanceof CoordinatorError) {
    return errorResponse(statusOfKind[err.kind], err.code, err.message, err.details);
  }
  if (err instanceof OctopusError) {
    const a = octopusErrorAnswer(err);
    const message = redactSecrets(a.message, secretsForRedaction);
    context?.warn(message);
    return errorResponse(statusOfKind[a.kind], a.code, message, undefined, a.headers);
  }
  if (isHttpMappable(err)) {
    const mapped = err.toHttp();
    const message = redactSecrets(mapped.message, secretsForRedaction);
    context?.warn(message);
    return errorResponse(mapped.status, mapped.code, message);
  }
  if (err instanceof EntityTooLargeError) {
    return errorResponse(413, 'too_large', err.message);
  }
  context?.error(`Unhandled error: ${redactedError(err)}`);
  return errorResponse(
    500,
    'internal_error',
    'The coordinator hit an unexpected error; see its logs for the invocation id.',
  );
}

/** Run a handler and turn any error into the API's JSON error response. */
export function jsonApi(
  handler: (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>,
): HttpHandler {
  return async (request, context) => {
    try {
      return await handler(request, context);
    } catch (err) {
      return toErrorResponse(err, context);
    }
  };
}
