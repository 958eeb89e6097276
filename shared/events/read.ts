// Step 1 of receiving a webhook: read the body, refusing anything over the size limit with 413.
import type { HttpRequest } from '@azure/functions';
import { HttpError } from '../http/errors.js';

/**
 * A real payload is a few KiB (the event plus the whole subscription resource). 256 KiB leaves
 * room for long messages and big filters while bounding what an unauthenticated caller can make us hold.
 */
export const maxWebhookBodyBytes = 256 * 1024;

function tooLarge(bytes: number, maxBytes: number, atLeast: boolean): HttpError {
  return new HttpError(
    413,
    'payload_too_large',
    `The request body is ${atLeast ? 'more than ' : ''}${bytes} bytes; the limit is ${maxBytes}. Octopus subscription payloads are a few KiB: check what is posting here.`,
  );
}

/**
 * Read at most `maxBytes`: refused from `Content-Length` before reading, and while reading when the
 * body comes without one (chunked), so an oversized body is never read to its end.
 */
export async function readWebhookBody(
  request: HttpRequest,
  maxBytes = maxWebhookBodyBytes,
): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(declared, maxBytes, false);
  const body = request.body;
  if (!body) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = (await reader.read()) as { done: boolean; value?: Uint8Array };
    if (done) break;
    if (!value) continue;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(maxBytes, maxBytes, true);
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks, size));
}
