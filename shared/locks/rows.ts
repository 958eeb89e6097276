// Where a lock lives in Table Storage: one partition per lock name, and the rows inside it.
//
// Row keys are chosen so that one query reads the lock row *before* its holders and waiters
// (`a-lock` < `l-…` < `w-…`), and history (`h-…`) is left out by the same filter:
//   a-lock                      fence and ticket counters, permits, the lock's name
//   h-<fence>                   history: a grant (its Timestamp is the grant time)
//   h-<fence>-end               history: how that grant ended (released, expired, task-ended)
//   l-<fence>-<secret>          a live holder; its Timestamp is the last grant/renewal (the TTL base)
//   w-<band>-<ticket>           a waiter; key order is queue order (band 0 = highest priority)
import { maxPriority } from './limits.js';
import { randomBytes } from 'node:crypto';
import { paddedNumberKey } from '../storage/keys.js';

export const locksTableName = 'locks';

export const lockRowKey = 'a-lock';
export const holderPrefix = 'l-';
export const waiterPrefix = 'w-';
export const historyPrefix = 'h-';

export { maxPriority } from './limits.js';

export interface LockRow {
  name: string;
  permits: number;
  /** The last fence granted (0 before the first grant). */
  fence: number;
  /** The last waiting ticket handed out. */
  ticket: number;
}

/**
 * Which request a holder or waiter row belongs to: the requestId of the acquire that created it, or
 * (for a request that gave none) its holder name. `keyedBy` says which; rows written before it
 * existed have none (see `sameRequest`).
 */
export interface RequestIdentity {
  requestKey: string;
  keyedBy?: KeyedBy;
}

export type KeyedBy = 'requestId' | 'holder';

/**
 * Whether a row was created by this request: a row created with a requestId answers only to that
 * requestId, never to a holder name (those are public in the listings); a row created without one
 * answers only to a request without one and the same holder name (that caller opted out).
 * A row written before `keyedBy` existed keeps the old rule (its key was `requestId ?? holder`).
 */
export function sameRequest(row: RequestIdentity, request: Required<RequestIdentity>): boolean {
  if (row.requestKey !== request.requestKey) return false;
  return row.keyedBy === undefined || row.keyedBy === request.keyedBy;
}

export interface HolderRow extends RequestIdentity {
  holder: string;
  fence: number;
  ttlSeconds: number;
  octopusTaskId?: string;
  /** Display only (the storage Date of the read before the grant); expiry uses the row Timestamp. */
  grantedAt: string;
}

export interface WaiterRow extends RequestIdentity {
  holder: string;
  ticket: number;
  priority: number;
  octopusTaskId?: string;
  queuedAt: string;
}

export interface HistoryGrantRow {
  kind: 'grant';
  holder: string;
  fence: number;
  permits: number;
  ttlSeconds: number;
  octopusTaskId?: string;
}

export type EndReason = 'released' | 'expired' | 'task-ended';

export interface HistoryEndRow {
  kind: 'end';
  fence: number;
  reason: EndReason;
  /** For `expired`: the instant the lease ran out (storage time, µs precision ISO); otherwise the row Timestamp. */
  endedAt?: string;
}

export const fenceKey = (fence: number): string => paddedNumberKey(fence);
export const holderRowKey = (fence: number, secret: string): string =>
  `${holderPrefix}${fenceKey(fence)}-${secret}`;
export const historyGrantKey = (fence: number): string => `${historyPrefix}${fenceKey(fence)}`;
export const historyEndKey = (fence: number): string => `${historyPrefix}${fenceKey(fence)}-end`;
export const waiterRowKey = (priority: number, ticket: number): string =>
  `${waiterPrefix}${maxPriority - priority}-${fenceKey(ticket)}`;

/**
 * A lease id is `<fence>.<secret>`: the fence says which grant it is, the secret proves the caller
 * was told of it. Together they name the holder row, so renew and release need no read first.
 */
export function newLeaseSecret(): string {
  return randomBytes(12).toString('hex');
}

export function formatLeaseId(fence: number, secret: string): string {
  return `${fence}.${secret}`;
}

export function parseLeaseId(leaseId: string): { fence: number; secret: string } | undefined {
  const m = /^(\d{1,15})\.([0-9a-f]{24})$/.exec(leaseId);
  if (!m) return undefined;
  return { fence: Number(m[1]), secret: m[2] ?? '' };
}
