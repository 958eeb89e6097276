// Wrap an HTTP handler: map thrown errors to JSON responses, log failures without secrets.
import type {
  HttpHandler,
  HttpRequest,
  HttpResponseInit,
  InvocationContext,
} from '@azure/functions';
import { redactSecrets } from '../config/settings.js';
import { EntityTooLargeError } from '../storage/limits.js';
import { errorResponse, HttpError } from './errors.js';

/** Errors that know their HTTP mapping (e.g. OctopusError) may implement this. */
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

export function toErrorResponse(err: unknown, context?: InvocationContext): HttpResponseInit {
  if (err instanceof HttpError) {
    return errorResponse(err.status, err.code, err.message, err.details, err.headers);
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
  const message = redactSecrets(
    err instanceof Error ? (err.stack ?? err.message) : String(err),
    secretsForRedaction,
  );
  context?.error(`Unhandled error: ${message}`);
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
