// Where a lock lives in Table Storage: one partition per lock name, and the rows inside it.
//
// Row keys are chosen so that one bounded range read, in key order, gives the lock row, then every
// holder, then the queue from its head (`a-lock` < `l-…` < `w-…`); rows that are not part of the
// queue sort after it, so a poll never reads them:
//   a-lock                       fence counter, permits, the lock's name
//   l-<fence>-<secret>           a live holder; its Timestamp is the last grant/renewal (the TTL base)
//   w-<band>-<arrival>-<nonce>   a waiter; key order is queue order: band 0 = highest priority, then
//                                arrival (storage time in µs, 16 digits), so FIFO within a band.
//                                Joining writes only the waiter's own rows, never a shared row.
//   w-<band>-<ticket>            a waiter written before arrival keys (15-digit ticket; sorts first)
//   x-<request>                  which waiter row belongs to a request (its requestId or holder name),
//                                created and deleted with the waiter row in the same batch
//   z-<fence>                    how a lease ended (released, expired, task-ended, forced): written in
//                                the batch that deleted its holder row, so a late renew or release is
//                                told why; pruned with the history
//   h-<fence>[-end]              history written before it moved to its own table (read and pruned)
// The grant history lives outside the lock's partition (see history.ts), so a lock's acquire costs
// the same whatever its history.
import { createHash, randomBytes } from 'node:crypto';
import { maxPriority } from './limits.js';
import { paddedNumberKey } from '../storage/keys.js';

export const locksTableName = 'locks';
/** Grant history of every lock (partition = the lock's partition key). */
export const lockHistoryTableName = 'lockhistory';

export const lockRowKey = 'a-lock';
export const holderPrefix = 'l-';
export const waiterPrefix = 'w-';
export const indexPrefix = 'x-';
export const endPrefix = 'z-';
/** History rows in the lock's partition, written before history had its own table. */
export const legacyHistoryPrefix = 'h-';
/** Sorts after every holder row and before every waiter row. */
export const holdersEnd = 'l.';
/** Sorts after every waiter row. */
export const waitersEnd = 'w.';

export { maxPriority } from './limits.js';

export interface LockRow {
  name: string;
  permits: number;
  /** The last fence granted (0 before the first grant). */
  fence: number;
  /** Waiting tickets handed out by the version before arrival keys (0 when none can remain). */
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
  /** Arrival in storage µs (or, for a row written before arrival keys, its ticket). */
  ticket: number;
  priority: number;
  octopusTaskId?: string;
  queuedAt: string;
  /**
   * The place lapses when its row has not been written for this long. A property of the row, so
   * callers that ask again at different rates (HTTP every few seconds, queued runs every few
   * minutes) share one queue. Absent on rows written before it existed (the reader's default).
   */
  waiterTtlSeconds?: number;
}

export type EndReason = 'released' | 'expired' | 'task-ended' | 'forced';

export const fenceKey = (fence: number): string => paddedNumberKey(fence);
export const holderRowKey = (fence: number, secret: string): string =>
  `${holderPrefix}${fenceKey(fence)}-${secret}`;
export const endRowKey = (fence: number): string => `${endPrefix}${fenceKey(fence)}`;
export const legacyHistoryGrantKey = (fence: number): string =>
  `${legacyHistoryPrefix}${fenceKey(fence)}`;
export const legacyHistoryEndKey = (fence: number): string =>
  `${legacyHistoryPrefix}${fenceKey(fence)}-end`;

/** The band part of a waiter key: 0 for priority 9 (served first) … 9 for priority 0. */
export const bandOf = (priority: number): number => maxPriority - priority;

/**
 * A waiter's key: band, then arrival (16 digits of storage µs), then a nonce so two arrivals in the
 * same microsecond never share a key. Without a nonce, the key of a pre-arrival-key ticket row.
 */
export const waiterRowKey = (priority: number, arrival: number, nonce?: string): string =>
  nonce === undefined
    ? `${waiterPrefix}${bandOf(priority)}-${fenceKey(arrival)}`
    : `${waiterPrefix}${bandOf(priority)}-${paddedNumberKey(arrival, 16)}-${nonce}`;

/** The first key a waiter of this priority could have (every waiter of a higher band sorts before it). */
export const bandStart = (priority: number): string => `${waiterPrefix}${bandOf(priority)}-`;

export function newWaiterNonce(): string {
  return randomBytes(4).toString('hex');
}

/** The index row of a request: a hash, so any requestId or holder name makes a short, safe key. */
export function indexRowKey(request: Required<RequestIdentity>): string {
  const hash = createHash('sha256')
    .update(`${request.keyedBy}\n${request.requestKey}`)
    .digest('hex')
    .slice(0, 40);
  return `${indexPrefix}${hash}`;
}

/** Whether a waiter row has an index row (every row written with arrival keys does). */
export const hasIndexRow = (waiterKey: string): boolean => /^w-\d-\d{16}-/.test(waiterKey);

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
