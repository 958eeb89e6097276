// HTTP errors: one error type carrying its status, mapped to a JSON response in one place.
import type { HttpResponseInit } from '@azure/functions';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (message: string, details?: unknown) =>
  new HttpError(400, 'bad_request', message, details);
export const notFound = (message: string) => new HttpError(404, 'not_found', message);

/** The JSON error body of the API: `{ error: { code, message, details? } }`. */
export function errorResponse(
  status: number,
  code: string,
  message: string,
  details?: unknown,
  headers?: Record<string, string>,
): HttpResponseInit {
  return {
    status,
    headers,
    jsonBody: { error: { code, message, ...(details === undefined ? {} : { details }) } },
  };
}
