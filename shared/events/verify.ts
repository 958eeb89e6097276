// Step 0 of receiving a webhook: check the shared secret from the subscription's one custom header,
// in constant time, before the body is read or parsed.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Settings } from '../config/settings.js';
import { HttpError } from '../http/errors.js';

interface HeaderSource {
  get(name: string): string | null;
}

function digest(value: string): Buffer {
  // Hashing first gives equal-length buffers, so the comparison time does not depend on the input.
  return createHash('sha256').update(value, 'utf8').digest();
}

/** The configured secret's digest, hashed once per secret rather than on every request. */
let expected: { secret: string; digest: Buffer } | undefined;
function expectedDigest(secret: string): Buffer {
  if (expected?.secret !== secret) expected = { secret, digest: digest(secret) };
  return expected.digest;
}

/** Throws 401 unless the request carries the configured secret. Never echoes either value. */
export function verifyWebhookSecret(webhook: Settings['webhook'], headers: HeaderSource): void {
  if (!webhook.secret) {
    throw new HttpError(
      401,
      'webhook_secret_not_configured',
      'This coordinator has no WEBHOOK_SECRET set, so it refuses every Octopus event. Set WEBHOOK_SECRET in the app settings and put the same value in the subscription header.',
    );
  }
  const sent = headers.get(webhook.header);
  if (sent === null || sent === '') {
    throw new HttpError(
      401,
      'webhook_secret_missing',
      `The request has no ${webhook.header} header. In the Octopus subscription, set the webhook header key to ${webhook.header} and its value to the coordinator's WEBHOOK_SECRET.`,
    );
  }
  if (!timingSafeEqual(digest(sent), expectedDigest(webhook.secret))) {
    throw new HttpError(
      401,
      'webhook_secret_wrong',
      `The ${webhook.header} header does not match the coordinator's WEBHOOK_SECRET. Put the same value in the Octopus subscription header.`,
    );
  }
}
