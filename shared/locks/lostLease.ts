// Why a renew or release found no lease: the tombstone says how it ended, and the error says what to do.
import { createHash } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { getOrUndefined } from '../storage/conditional.js';
import { encodeKey } from '../storage/keys.js';
import { LockError } from './errors.js';
import { endRowKey, legacyHistoryEndKey } from './rows.js';

/** How a lease ended, from its tombstone (absent when the lease id never held the lock). */
export interface LeaseEnd {
  reason: string;
  endedAt: string | undefined;
  /** The released lease's fingerprint (see leaseFingerprint). */
  lease: string | undefined;
  /** A forced release: who and why. */
  by?: string;
  why?: string;
}

export async function readLeaseEnd(
  client: TableClient,
  pk: string,
  fence: number,
): Promise<LeaseEnd | undefined> {
  const row =
    (await getOrUndefined<Record<string, unknown>>(client, pk, endRowKey(fence))) ??
    (await getOrUndefined<Record<string, unknown>>(client, pk, legacyHistoryEndKey(fence)));
  if (!row) return undefined;
  return {
    reason: String(row.reason ?? ''),
    endedAt: typeof row.endedAt === 'string' ? row.endedAt : undefined,
    lease: typeof row.lease === 'string' ? row.lease : undefined,
    ...(typeof row.by === 'string' ? { by: row.by } : {}),
    ...(typeof row.why === 'string' ? { why: row.why } : {}),
  };
}

export async function lostLeaseError(
  client: TableClient,
  name: string,
  fence: number,
  action: 'renew' | 'release',
  knownEnd?: LeaseEnd,
): Promise<LockError> {
  const end = knownEnd ?? (await readLeaseEnd(client, encodeKey(name), fence));
  const what = `Cannot ${action} lease ${fence} of lock "${name}"`;
  switch (end?.reason) {
    case 'expired':
      return new LockError(
        'not_holder',
        `${what}: it expired at ${end.endedAt ?? 'its TTL'} without renewal and another holder may have it now. Renew more often than the TTL, or use a longer TTL, then acquire again.`,
      );
    case 'task-ended':
      return new LockError(
        'not_holder',
        `${what}: it was freed because its Octopus task ended. Acquire again for a new task.`,
      );
    case 'forced':
      return new LockError(
        'not_holder',
        `${what}: it was force-released by ${end.by ?? 'an administrator'}${end.endedAt ? ` at ${end.endedAt}` : ''}, reason: ${end.why ?? '(none given)'}. Another holder may have it now; acquire again if the work must still be done.`,
      );
    case 'released':
      return new LockError('not_holder', `${what}: it has already been released.`);
    default:
      return new LockError(
        'not_holder',
        `${what}: this lease id does not hold it (wrong lock name or lease id, or not the holder). Only the holder that was granted the lease can renew or release it.`,
      );
  }
}

/** A short hash of a lease id, kept with a release so a repeated release can be recognised. */
export function leaseFingerprint(leaseId: string): string {
  return createHash('sha256').update(leaseId).digest('hex').slice(0, 16);
}
