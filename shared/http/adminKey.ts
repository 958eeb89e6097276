// Operator actions (force-releasing a lock) need the admin key, a secret of their own: the function
// key lets a caller use locks, the admin key lets a person take them away. In Azure the Functions
// host checks the function key first; this checks the admin key, which the host knows nothing of.
import type { HttpRequest } from '@azure/functions';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Settings } from '../config/settings.js';
import { HttpError } from './errors.js';

/** The header that carries the admin key. */
export const adminKeyHeader = 'x-coordinator-admin-key';

const where =
  'the COORDINATOR_ADMIN_KEY app setting (in Azure: the Key Vault secret coordinator-admin-key, which `azd provision` sets from COORDINATOR_ADMIN_KEY; locally: local.settings.json or the environment)';

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** Throws 401 (no key sent), 403 (wrong key) or 503 (no key configured); returns when the key matches. */
export function requireAdminKey(request: HttpRequest, settings: Settings): void {
  const unresolved = settings.unresolved.some((u) => u.setting === 'COORDINATOR_ADMIN_KEY');
  const expected = settings.adminKey;
  if (!expected) {
    throw new HttpError(
      503,
      unresolved ? 'admin_key_unresolved' : 'admin_key_not_configured',
      unresolved
        ? `This action needs the admin key, and COORDINATOR_ADMIN_KEY is an unresolved Key Vault reference (see GET /api/health): set the secret coordinator-admin-key in the app's Key Vault.`
        : `This action needs the admin key, and none is configured: set ${where}, then send it in the ${adminKeyHeader} header.`,
    );
  }
  const sent = request.headers.get(adminKeyHeader)?.trim();
  if (!sent) {
    throw new HttpError(
      401,
      'admin_key_required',
      `This action needs the admin key (not the function key) in the ${adminKeyHeader} header: its value is ${where}.`,
    );
  }
  if (!timingSafeEqual(digest(sent), digest(expected))) {
    throw new HttpError(
      403,
      'admin_key_refused',
      `The ${adminKeyHeader} header does not match the admin key: use the value of ${where}.`,
    );
  }
}
