// The acquire decision: from one bounded read, grant, queue, or refuse, and the single batch that does it.
// Pure (no I/O), so the FIFO, priority, permits and reaping rules are testable without storage.
import { maxPermits } from './limits.js';
import type { TableEntity, TransactionAction } from '@azure/data-tables';
import { formatMicros, leaseEnd } from './expiry.js';
import { LockError } from './errors.js';
import {
  endRowKey,
  hasIndexRow,
  holderRowKey,
  indexRowKey,
  lockRowKey,
  sameRequest,
  type EndReason,
  type HolderRow,
  type KeyedBy,
  type WaiterRow,
} from './rows.js';
import { holderExpired, waiterLive, type LockSnapshot, type Stored } from './snapshot.js';

/** Table transactions take at most 100 actions. */
const maxBatchActions = 100;
export { maxPermits } from './limits.js';

export interface AcquireRequest {
  holder: string;
  /** The request id, or the holder name when none was given (`keyedBy` says which; see `sameRequest`). */
  requestKey: string;
  keyedBy: KeyedBy;
  permits: number | undefined;
  ttlSeconds: number;
  octopusTaskId: string | undefined;
  /** 0..9, higher is served first; FIFO inside a priority. */
  priority: number;
  /** Join the queue when not granted (false: a try-lock that never waits). */
  queue: boolean;
}

export interface DecisionOptions {
  lockName: string;
  /** Waiter TTL of rows that carry none (written before it was a row property). */
  waiterTtlSeconds: number;
  /** The waiter TTL a new place of this caller gets (default: waiterTtlSeconds). */
  newWaiterTtlSeconds?: number;
  /** Octopus tasks known to have ended: their leases are freed like expired ones. */
  endedTasks: ReadonlySet<string>;
  /** A fresh random secret for a new lease. */
  newSecret: () => string;
  /** The row key and ticket (arrival, storage µs) a new place would get. */
  newPlace?: () => { key: string; ticket: number };
  /**
   * This request's place when it lies beyond what the read covered (found through its index row):
   * its key, and whether it is known to be live. Rows in the read are recognised by themselves.
   */
  knownPlace?: { key: string; live: boolean; exists: boolean; indexEtag?: string };
}

export interface Reaped {
  holder: Stored<HolderRow>;
  reason: EndReason;
}

export type AcquireDecision =
  | { kind: 'existing'; holder: Stored<HolderRow> }
  | {
      kind: 'grant';
      fence: number;
      secret: string;
      permits: number;
      actions: TransactionAction[];
      reaped: Reaped[];
      /** Lapsed waiter rows this batch deletes. */
      cleared: number;
    }
  | {
      kind: 'queued';
      /** Live waiters known ahead; exact when `exact`, else a lower bound (the read stopped before). */
      ahead: number;
      exact: boolean;
      ticket: number;
      key: string;
      /** True when the actions create the place (a new waiter row and its index row). */
      joined: boolean;
      /** True when this decision found a place beyond the read that it could not check (see knownPlace). */
      unchecked: boolean;
      actions: TransactionAction[];
    }
  | { kind: 'refused'; position: null };

export interface LockState {
  permits: number;
  live: Stored<HolderRow>[];
  /** Holders that may be removed now (expired, or their task ended), at most what one batch can take. */
  reapable: Reaped[];
  /** Live waiters in queue order (of what was read). */
  waiters: LockSnapshot['waiters'];
  expiredWaiters: LockSnapshot['waiters'];
  free: number;
}

/** Who holds, who waits, what is free, as seen by one snapshot. */
export function lockState(
  snapshot: LockSnapshot,
  options: Pick<DecisionOptions, 'waiterTtlSeconds' | 'endedTasks'>,
  reapBudget = maxPermits,
): LockState {
  const live: Stored<HolderRow>[] = [];
  const reapable: Reaped[] = [];
  for (const holder of snapshot.holders) {
    const taskEnded =
      holder.data.octopusTaskId !== undefined && options.endedTasks.has(holder.data.octopusTaskId);
    const expired = holderExpired(holder, snapshot.readDate);
    // A holder we cannot reap in this batch stays counted, so the batch never grants past it.
    if ((expired || taskEnded) && reapable.length < reapBudget) {
      reapable.push({ holder, reason: expired ? 'expired' : 'task-ended' });
    } else {
      live.push(holder);
    }
  }
  const waiters = snapshot.waiters.filter((w) =>
    waiterLive(w, snapshot.readDate, options.waiterTtlSeconds),
  );
  const expiredWaiters = snapshot.waiters.filter(
    (w) => !waiterLive(w, snapshot.readDate, options.waiterTtlSeconds),
  );
  const permits = snapshot.lock?.data.permits ?? 1;
  return {
    permits,
    live,
    reapable,
    waiters,
    expiredWaiters,
    free: Math.max(0, permits - live.length),
  };
}

/** What a tombstone (and the history's end row) says about how a lease ended. */
export interface EndRecord {
  reason: EndReason;
  /** When it ended (storage time): for `expired` the end of its TTL, otherwise unset (the row Timestamp). */
  endedAt?: string;
  /** A forced release: who, and why. */
  by?: string;
  why?: string;
  /** A release: the lease id's fingerprint, so a repeated release is recognised. */
  lease?: string;
}

/** The tombstone of a lease, written in the batch that deletes its holder row. */
export function endEntity(
  partitionKey: string,
  fence: number,
  end: EndRecord,
  holder?: Stored<HolderRow>,
): TableEntity<Record<string, unknown>> {
  const entity: TableEntity<Record<string, unknown>> = {
    partitionKey,
    rowKey: endRowKey(fence),
    kind: 'end',
    fence,
    reason: end.reason,
  };
  if (end.endedAt !== undefined) entity.endedAt = end.endedAt;
  if (end.by !== undefined) entity.by = end.by;
  if (end.why !== undefined) entity.why = end.why;
  if (end.lease !== undefined) entity.lease = end.lease;
  if (holder) {
    // What the history needs if the grant's own record was never written (its granter died first):
    // the holder row's last write is no earlier than the grant.
    entity.holder = holder.data.holder;
    entity.ttlSeconds = holder.data.ttlSeconds;
    entity.heldSince = formatMicros(holder.timestamp);
    if (holder.data.octopusTaskId) entity.octopusTaskId = holder.data.octopusTaskId;
  }
  return entity;
}

/** The actions that record reaped holders as ended (delete, tombstone). */
export function reapActions(partitionKey: string, reaped: readonly Reaped[]): TransactionAction[] {
  const actions: TransactionAction[] = [];
  for (const { holder, reason } of reaped) {
    // The SDK sends batch deletes without If-Match. That is safe here because every batch that reaps
    // also writes the lock row with If-Match, and every renewal touches the lock row: a renewal after
    // our read makes the batch fail.
    actions.push(['delete', { partitionKey, rowKey: holder.rowKey }]);
    const end: EndRecord = { reason };
    if (reason === 'expired')
      end.endedAt = formatMicros(leaseEnd(holder.timestamp, holder.data.ttlSeconds));
    actions.push(['upsert', endEntity(partitionKey, holder.data.fence, end, holder), 'Merge']);
  }
  return actions;
}

/** Delete waiter rows and, for those that have one, their index rows (each row once). */
export function waiterDeletes(
  partitionKey: string,
  rows: readonly Stored<WaiterRow>[],
  skipIndex: ReadonlySet<string> = new Set(),
): TransactionAction[] {
  const actions: TransactionAction[] = [];
  const indexes = new Set<string>(skipIndex);
  for (const w of rows) {
    actions.push(['delete', { partitionKey, rowKey: w.rowKey }]);
    if (!hasIndexRow(w.rowKey)) continue;
    const index = indexRowKey(requestOf(w.data));
    if (indexes.has(index)) continue;
    indexes.add(index);
    actions.push(['delete', { partitionKey, rowKey: index }]);
  }
  return actions;
}

const requestOf = (w: WaiterRow): { requestKey: string; keyedBy: KeyedBy } => ({
  requestKey: w.requestKey,
  keyedBy: w.keyedBy ?? 'holder',
});

export function decideAcquire(
  snapshot: LockSnapshot,
  request: AcquireRequest,
  options: DecisionOptions,
): AcquireDecision {
  const pk = snapshot.partitionKey;
  const lock = snapshot.lock;
  const mine = snapshot.holders.find((h) => sameRequest(h.data, request));
  if (
    mine &&
    !holderExpired(mine, snapshot.readDate) &&
    !(mine.data.octopusTaskId && options.endedTasks.has(mine.data.octopusTaskId))
  ) {
    return { kind: 'existing', holder: mine };
  }

  // Budget: lock row, holder row, own waiter and index rows; two actions per reaped holder.
  const state = lockState(snapshot, options, Math.floor((maxBatchActions - 4) / 2));
  const myRow = state.waiters.find((w) => sameRequest(w.data, request));
  const myStale = state.expiredWaiters.filter((w) => sameRequest(w.data, request));
  let permits = state.permits;
  if (request.permits !== undefined && request.permits !== permits) {
    const othersWaiting =
      state.waiters.some((w) => w !== myRow) || (snapshot.complete === false && !myRow);
    if (lock && (state.live.length > 0 || othersWaiting)) {
      throw new LockError(
        'permits_mismatch',
        `Lock "${options.lockName}" has ${permits} permit(s) and is in use; this request asked for ${request.permits}. ` +
          'Every user of a lock must ask for the same number of permits (or leave it out to use the stored one); ' +
          'it can be changed only while nobody holds or waits for it.',
      );
    }
    permits = request.permits;
  }
  const free = Math.max(0, permits - state.live.length);

  // A place beyond the read (index row) is behind everything read; the read stopped because those
  // already fill the free permits, so it is not granted now.
  const beyond = !myRow && options.knownPlace && snapshot.complete === false;
  // A newcomer goes behind every waiter of its priority or a higher one.
  const index = myRow
    ? state.waiters.indexOf(myRow)
    : state.waiters.filter((w) => w.data.priority >= request.priority).length;

  if (index < free && !beyond) {
    const fence = (lock?.data.fence ?? 0) + 1;
    const secret = options.newSecret();
    const actions: TransactionAction[] = [];
    // Once the whole queue was read and no ticket row of the old format is in it, say so.
    const legacy = state.waiters.some((w) => !hasIndexRow(w.rowKey));
    const lockEntity = {
      partitionKey: pk,
      rowKey: lockRowKey,
      name: options.lockName,
      permits,
      fence,
      ticket: snapshot.complete && !legacy ? 0 : (lock?.data.ticket ?? 0),
    };
    actions.push(
      lock ? ['update', lockEntity, 'Replace', { etag: lock.etag }] : ['create', lockEntity],
    );
    const holderEntity: TableEntity<Record<string, unknown>> = {
      partitionKey: pk,
      rowKey: holderRowKey(fence, secret),
      holder: request.holder,
      requestKey: request.requestKey,
      keyedBy: request.keyedBy,
      fence,
      ttlSeconds: request.ttlSeconds,
      grantedAt: formatMicros(snapshot.readDate),
    };
    if (request.octopusTaskId) holderEntity.octopusTaskId = request.octopusTaskId;
    actions.push(['create', holderEntity]);
    const own = myRow ? [myRow, ...myStale] : myStale;
    const ownDeletes = waiterDeletes(pk, own);
    actions.push(...ownDeletes);
    // The index named a place the read did not find (the read covered its whole range): drop it.
    const myIndex = indexRowKey(request);
    const indexDeleted = ownDeletes.some(([, e]) => e.rowKey === myIndex);
    if (options.knownPlace && !indexDeleted)
      actions.push(['delete', { partitionKey: pk, rowKey: myIndex }]);
    actions.push(...reapActions(pk, state.reapable));
    let cleared = 0;
    const others = state.expiredWaiters.filter((w) => !own.includes(w));
    const skip = new Set([myIndex]);
    for (const w of others) {
      if (actions.length + 2 > maxBatchActions) break;
      actions.push(...waiterDeletes(pk, [w], skip));
      cleared += 1;
    }
    return {
      kind: 'grant',
      fence,
      secret,
      permits,
      actions,
      reaped: state.reapable,
      cleared,
    };
  }

  if (!request.queue) return { kind: 'refused', position: null };

  if (myRow) {
    // Keep the place: refresh the row's Timestamp once a third of its TTL has passed.
    const ttl = myRow.data.waiterTtlSeconds ?? options.waiterTtlSeconds;
    const stale = snapshot.readDate >= myRow.timestamp + (ttl * 1_000_000) / 3;
    const actions: TransactionAction[] = stale
      ? [
          [
            'update',
            { partitionKey: pk, rowKey: myRow.rowKey, holder: request.holder },
            'Merge',
            { etag: myRow.etag },
          ],
        ]
      : [];
    return {
      kind: 'queued',
      ahead: index,
      exact: true,
      ticket: myRow.data.ticket,
      key: myRow.rowKey,
      joined: false,
      unchecked: false,
      actions,
    };
  }

  if (beyond && options.knownPlace?.live) {
    const key = options.knownPlace.key;
    return {
      kind: 'queued',
      ahead: index,
      exact: false,
      ticket: ticketOfKey(key),
      key,
      joined: false,
      unchecked: true,
      actions: [],
    };
  }

  // A new place: its own waiter row and index row, written without touching any shared row.
  const place = options.newPlace?.();
  if (!place) throw new Error('decideAcquire: a new place needs newPlace');
  const waiterEntity: TableEntity<Record<string, unknown>> = {
    partitionKey: pk,
    rowKey: place.key,
    holder: request.holder,
    requestKey: request.requestKey,
    keyedBy: request.keyedBy,
    ticket: place.ticket,
    priority: request.priority,
    queuedAt: formatMicros(place.ticket),
    waiterTtlSeconds: options.newWaiterTtlSeconds ?? options.waiterTtlSeconds,
  };
  if (request.octopusTaskId) waiterEntity.octopusTaskId = request.octopusTaskId;
  const indexEntity = {
    partitionKey: pk,
    rowKey: indexRowKey(request),
    waiter: place.key,
  };
  const stalePlace = options.knownPlace;
  const actions: TransactionAction[] = [['create', waiterEntity]];
  const oldRows = new Set(myStale.map((w) => w.rowKey));
  if (stalePlace?.exists) oldRows.add(stalePlace.key);
  if (stalePlace || myStale.some((w) => hasIndexRow(w.rowKey))) {
    // The index names a place that lapsed: point it at the new one and drop the old row.
    actions.push(['update', indexEntity, 'Replace', { etag: stalePlace?.indexEtag ?? '*' }]);
  } else {
    actions.push(['create', indexEntity]);
  }
  for (const rowKey of oldRows) actions.push(['delete', { partitionKey: pk, rowKey }]);
  return {
    kind: 'queued',
    ahead: index,
    exact: snapshot.complete !== false,
    ticket: place.ticket,
    key: place.key,
    joined: true,
    unchecked: false,
    actions,
  };
}

/** The ticket (arrival µs, or an old ticket number) a waiter key carries. */
export function ticketOfKey(key: string): number {
  return Number(/^w-\d-(\d+)/.exec(key)?.[1] ?? 0);
}
