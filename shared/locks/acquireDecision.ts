// The acquire decision: from one snapshot, grant, queue, or refuse, and the single batch that does it.
// Pure (no I/O), so the FIFO, priority, permits and reaping rules are testable without storage.
import { maxPermits } from './limits.js';
import type { TableEntity, TransactionAction } from '@azure/data-tables';
import { formatMicros, leaseEnd } from './expiry.js';
import { LockError } from './errors.js';
import {
  historyEndKey,
  historyGrantKey,
  holderRowKey,
  lockRowKey,
  sameRequest,
  waiterRowKey,
  type EndReason,
  type HolderRow,
  type KeyedBy,
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
  waiterTtlSeconds: number;
  maxWaiters: number;
  /** Octopus tasks known to have ended: their leases are freed like expired ones. */
  endedTasks: ReadonlySet<string>;
  /** A fresh random secret for a new lease. */
  newSecret: () => string;
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
    }
  | { kind: 'queued'; position: number; ticket: number; actions: TransactionAction[] }
  | { kind: 'refused'; position: null };

export interface LockState {
  permits: number;
  live: Stored<HolderRow>[];
  /** Holders that may be removed now (expired, or their task ended), at most what one batch can take. */
  reapable: Reaped[];
  /** Live waiters in queue order. */
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

/** The actions that record reaped holders as ended (delete if unchanged, history row). */
export function reapActions(partitionKey: string, reaped: readonly Reaped[]): TransactionAction[] {
  const actions: TransactionAction[] = [];
  for (const { holder, reason } of reaped) {
    // The SDK sends batch deletes without If-Match. That is safe here because every batch that reaps
    // also writes the lock row with If-Match, and every renewal touches the lock row: a renewal after
    // our read makes the batch fail.
    actions.push(['delete', { partitionKey, rowKey: holder.rowKey }]);
    const end: TableEntity<Record<string, unknown>> = {
      partitionKey,
      rowKey: historyEndKey(holder.data.fence),
      kind: 'end',
      fence: holder.data.fence,
      reason,
    };
    if (reason === 'expired')
      end.endedAt = formatMicros(leaseEnd(holder.timestamp, holder.data.ttlSeconds));
    actions.push(['upsert', end, 'Merge']);
  }
  return actions;
}

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

  // Budget: lock row, holder row, history row, own waiter row; two actions per reaped holder.
  const state = lockState(snapshot, options, Math.floor((maxBatchActions - 4) / 2));
  const otherWaiters = state.waiters.filter((w) => !sameRequest(w.data, request));
  let permits = state.permits;
  if (request.permits !== undefined && request.permits !== permits) {
    if (lock && (state.live.length > 0 || otherWaiters.length > 0)) {
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

  // My place: my live waiter row, or where a new row of my priority would go.
  const myWaiter = state.waiters.find((w) => sameRequest(w.data, request));
  const myStaleWaiters = state.expiredWaiters.filter((w) => sameRequest(w.data, request));
  const index = myWaiter
    ? state.waiters.indexOf(myWaiter)
    : state.waiters.filter((w) => w.data.priority >= request.priority).length;

  if (index < free) {
    const fence = (lock?.data.fence ?? 0) + 1;
    const secret = options.newSecret();
    const actions: TransactionAction[] = [];
    const lockEntity = {
      partitionKey: pk,
      rowKey: lockRowKey,
      name: options.lockName,
      permits,
      fence,
      ticket: lock?.data.ticket ?? 0,
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
    const grantEntity: TableEntity<Record<string, unknown>> = {
      partitionKey: pk,
      rowKey: historyGrantKey(fence),
      kind: 'grant',
      holder: request.holder,
      fence,
      permits,
      ttlSeconds: request.ttlSeconds,
    };
    if (request.octopusTaskId) {
      holderEntity.octopusTaskId = request.octopusTaskId;
      grantEntity.octopusTaskId = request.octopusTaskId;
    }
    actions.push(['create', holderEntity], ['create', grantEntity]);
    for (const w of myWaiter ? [myWaiter, ...myStaleWaiters] : myStaleWaiters) {
      actions.push(['delete', { partitionKey: pk, rowKey: w.rowKey }]);
    }
    actions.push(...reapActions(pk, state.reapable));
    for (const w of state.expiredWaiters) {
      if (actions.length >= maxBatchActions) break;
      if (myStaleWaiters.includes(w)) continue;
      actions.push(['delete', { partitionKey: pk, rowKey: w.rowKey }]);
    }
    return { kind: 'grant', fence, secret, permits, actions, reaped: state.reapable };
  }

  if (!request.queue) return { kind: 'refused', position: null };

  if (myWaiter) {
    // Keep the place: refresh the row's Timestamp once a third of the waiter TTL has passed.
    const stale =
      snapshot.readDate >= myWaiter.timestamp + (options.waiterTtlSeconds * 1_000_000) / 3;
    const actions: TransactionAction[] = stale
      ? [
          [
            'update',
            { partitionKey: pk, rowKey: myWaiter.rowKey, holder: request.holder },
            'Merge',
            { etag: myWaiter.etag },
          ],
        ]
      : [];
    return { kind: 'queued', position: index + 1, ticket: myWaiter.data.ticket, actions };
  }

  if (otherWaiters.length >= options.maxWaiters) {
    throw new LockError(
      'queue_full',
      `Lock "${options.lockName}" already has ${otherWaiters.length} waiters (the limit); try again later or use another lock name.`,
    );
  }
  const ticket = (lock?.data.ticket ?? 0) + 1;
  const lockEntity = {
    partitionKey: pk,
    rowKey: lockRowKey,
    name: options.lockName,
    permits,
    fence: lock?.data.fence ?? 0,
    ticket,
  };
  const waiterEntity: TableEntity<Record<string, unknown>> = {
    partitionKey: pk,
    rowKey: waiterRowKey(request.priority, ticket),
    holder: request.holder,
    requestKey: request.requestKey,
    keyedBy: request.keyedBy,
    ticket,
    priority: request.priority,
    queuedAt: formatMicros(snapshot.readDate),
  };
  if (request.octopusTaskId) waiterEntity.octopusTaskId = request.octopusTaskId;
  const actions: TransactionAction[] = [
    lock ? ['update', lockEntity, 'Replace', { etag: lock.etag }] : ['create', lockEntity],
    ['create', waiterEntity],
    ...myStaleWaiters.map((w): TransactionAction => [
      'delete',
      { partitionKey: pk, rowKey: w.rowKey },
    ]),
  ];
  return { kind: 'queued', position: index + 1, ticket, actions };
}
