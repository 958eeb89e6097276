// Step 1 of receiving a webhook: read the body, refusing anything over the size limit with 413.
import type { HttpRequest } from '@azure/functions';
import { readBodyText } from '../http/body.js';

/**
 * A real payload is a few KiB (the event plus the whole subscription resource). 256 KiB leaves
 * room for long messages and big filters while bounding what an unauthenticated caller can make us hold.
 */
export const maxWebhookBodyBytes = 256 * 1024;

/** The webhook body, at most `maxBytes` (413 before or while reading; never read to its end). */
export function readWebhookBody(
  request: HttpRequest,
  maxBytes = maxWebhookBodyBytes,
): Promise<string> {
  return readBodyText(
    request,
    maxBytes,
    'Octopus subscription payloads are a few KiB: check what is posting here.',
  );
}
