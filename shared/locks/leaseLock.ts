// Named lease locks with N permits on Table Storage: acquire (FIFO, priorities, try-lock), renew, release, inspect.
//
// Costs (issue 16): a caller joins the queue by writing only its own rows (a waiter row whose key is
// its place, and an index row naming it), never a row others write; a poll reads the lock row, the
// holders and the queue ahead of it only as far as the free permits (at most permits + 2 rows); a
// release wakes only as many waiters of this process as it freed permits; history is written
// outside the lock's partition.
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  odata,
  type TableClient,
  type TableEntity,
  type TransactionAction,
} from '@azure/data-tables';
import { getOrUndefined, storageStatus } from '../storage/conditional.js';
import { encodeKey } from '../storage/keys.js';
import {
  decideAcquire,
  endEntity,
  lockState,
  reapActions,
  waiterDeletes,
  type AcquireDecision,
  type AcquireRequest,
  type DecisionOptions,
  type EndRecord,
  type LockState,
  type Reaped,
} from './acquireDecision.js';
import { LockError } from './errors.js';
import {
  formatMicros,
  leaseEnd,
  parseStorageTime,
  timestampFromEtag,
  type Micros,
} from './expiry.js';
import {
  findOverlaps,
  ownTablePartition,
  pruneHistory,
  readHistory,
  recordEnds,
  recordGrant,
  sameTablePartition,
  type GrantRecord,
  type HistoryPlace,
  type OverlapReport,
} from './history.js';
import {
  checkTtl,
  defaultTtlSeconds,
  normalizeRequest,
  parseLease,
  requestIdentity,
  type AcquireOptions,
  type LeaveOptions,
} from './leaseRequest.js';
import {
  findDeadlocks,
  inspectLock,
  listLocks,
  type Deadlock,
  type LockSummary,
  type LockView,
} from './lockViews.js';
import { leaseFingerprint, lostLeaseError, readLeaseEnd } from './lostLease.js';
import {
  bandOf,
  formatLeaseId,
  holderPrefix,
  holderRowKey,
  holdersEnd,
  indexRowKey,
  lockRowKey,
  newLeaseSecret,
  newWaiterNonce,
  sameRequest,
  waiterPrefix,
  waiterRowKey,
  waitersEnd,
  type HolderRow,
  type RequestIdentity,
  type WaiterRow,
} from './rows.js';
import {
  holderExpired,
  holderExpiresAt,
  LockReadStats,
  readAllLockSnapshots,
  readLockSnapshot,
  toHolderRow,
  toWaiterRow,
  waiterLive,
  type LockSnapshot,
  type Stored,
} from './snapshot.js';
import { StorageClock } from './storageClock.js';
import { LockWakeups } from './wakeups.js';

/** A waiter keeps its place while it asks again within this many seconds (unless its row says otherwise). */
export const defaultWaiterTtlSeconds = 30;

/** Given task ids, the ones whose Octopus task has finished, failed, been cancelled or timed out. */
export type EndedTaskLookup = (taskIds: readonly string[]) => Promise<ReadonlySet<string>>;

export interface LeaseLocksOptions {
  /** The `locks` table. */
  table: () => Promise<TableClient>;
  /**
   * The lock history table (`lockhistory`). Without it, history goes to partitions of its own in
   * the locks table (still outside every lock's partition).
   */
  historyTable?: () => Promise<TableClient>;
  /** Octopus task lookup for task-bound leases; without it they are freed only by TTL or the status poll. */
  endedTasks?: EndedTaskLookup;
  /**
   * The waiter TTL of the places this instance creates (default 30 s). It is stored on the waiter
   * row, so places of callers that ask at different rates live side by side in one queue.
   */
  waiterTtlSeconds?: number;
  /** At most this many live waiters per lock (default 500). */
  maxWaiters?: number;
  /** A waiting caller checks the tasks of task-bound holders at most this often (default 5 s). */
  taskCheckIntervalMs?: number;
  wakeups?: LockWakeups;
  /** Rows and queries the lock reads (benchmarks). */
  stats?: LockReadStats;
}

export interface Grant {
  granted: true;
  lock: string;
  holder: string;
  leaseId: string;
  fence: number;
  /** Storage time when the lease runs out unless renewed. */
  expiresAt: Date;
  ttlSeconds: number;
  /** True when this was an earlier grant to the same request (a retried acquire). */
  reused: boolean;
}

export interface NotGranted {
  granted: false;
  lock: string;
  /** False for a try-lock (queue: false): no place was kept. */
  queued: boolean;
  /** 1 = next in line; null when not queued. */
  position: number | null;
  /** The place's arrival (storage µs): smaller is earlier in its priority band. */
  ticket?: number;
  permits: number;
  /** The current holders' names. */
  heldBy: string[];
}

export type AcquireResult = Grant | NotGranted;

export interface ReleaseResult {
  released: true;
  fence: number;
  /** The lease had already been released by its holder (a repeated release). */
  alreadyReleased: boolean;
}

export interface LeaveResult {
  lock: string;
  /** False when the request had no place in the queue (never queued, already left, or lapsed). */
  left: boolean;
}

export interface ForceReleaseResult {
  lock: string;
  /** The leases that were freed (none when nobody held the lock). */
  released: { holder: string; fence: number; octopusTaskId?: string }[];
  /** With `fence`: the leases granted after it, which were left alone. */
  kept?: { holder: string; fence: number }[];
  by: string;
  reason: string;
  /** Storage time of the release. */
  at: string | null;
  /** The fence of the latest grant; the next grant gets a higher one. */
  lastFence: number;
}

/** A pool's answer: a grant names the lock it is on (`lock`); a wait names every lock of the pool. */
export type AcquireAnyResult = Grant | (NotGranted & { names: string[] });

const maxAttempts = 60;

/**
 * History writes (off the answers) that fail transiently are tried again after about 0.1, 0.4 and
 * 1.6 s (the SDK's own two retries come first): about 2 s in all, bounded.
 */
const historyRetryDelaysMs = [100, 400, 1600];

/** Storage errors worth another try: no answer (network), timeouts, throttling, server errors. */
const isTransient = (err: unknown): boolean => {
  const status = storageStatus(err);
  return status === undefined || status === 408 || status === 429 || status >= 500;
};

/** History writes of this instance: how many were retried, and how many were finally lost. */
export interface HistoryWriteStats {
  written: number;
  retried: number;
  /** Given up (after the retries, or a failure that is not transient): the history lacks a record. */
  failed: number;
}

const isConflict = (err: unknown): boolean => [404, 409, 412].includes(storageStatus(err) ?? 0);

function jitter(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

/** A request's place as this process last wrote it (so a poll needs no index read). */
interface KnownPlace {
  key: string;
  /** performance.now() when its row was last written (sent). */
  writtenAt: number;
  ttlSeconds: number;
}

/** What one attempt found, beyond its answer: for the waiting loop. */
interface Attempt {
  result: AcquireResult;
  /** The place's row key while queued. */
  key?: string;
  /** The position is exact (else a lower bound from the bounded read). */
  exact: boolean;
  /** The lock's last fence as read (to estimate how far a place has moved). */
  fence: number;
  /**
   * Queued behind leases that were all granted in this process (so their release here wakes a
   * waiter here): how long until the first of them runs out unrenewed, in ms.
   */
  heldHereMs?: number;
}

/**
 * While every permit of a lock is held by a lease granted in this process, its release here wakes
 * the waiter first here at once: waiters here then poll only as a backstop, for what happens
 * elsewhere (such a lease released through another instance, forced free, run out). The waiter at
 * the front here polls every `frontBackstopMs`, the others every `backstopMs`.
 */
const frontBackstopMs = 250;
const backstopMs = 2000;

/** Beyond this distance between a new place's estimated arrival and its row's storage time, re-key it. */
const rekeyMicros = 100_000;

export class LeaseLocks {
  readonly wakeups: LockWakeups;
  readonly stats: LockReadStats;
  private readonly waiterTtlSeconds: number;
  private readonly maxWaiters: number;
  private readonly taskCheckIntervalMs: number;
  private readonly lastTaskCheck = new Map<string, number>();
  /** Tasks seen running (performance.now() of the check) and tasks seen ended (they stay ended). */
  private readonly tasksRunning = new Map<string, number>();
  private readonly tasksEnded = new Set<string>();
  private readonly clock = new StorageClock();
  private calibrating: Promise<void> | undefined;
  private readonly clockRow = `c-${randomBytes(8).toString('hex')}`;
  private readonly places = new Map<string, KnownPlace>();
  private readonly permitsSeen = new Map<string, number>();
  private readonly pendingHistory = new Set<Promise<void>>();
  /** History writes of this instance (grant and end records), retried and lost. */
  readonly historyWrites: HistoryWriteStats = { written: 0, retried: 0, failed: 0 };

  constructor(private readonly options: LeaseLocksOptions) {
    this.wakeups = options.wakeups ?? new LockWakeups();
    this.stats = options.stats ?? new LockReadStats();
    this.waiterTtlSeconds = options.waiterTtlSeconds ?? defaultWaiterTtlSeconds;
    this.maxWaiters = options.maxWaiters ?? 500;
    this.taskCheckIntervalMs = options.taskCheckIntervalMs ?? 5000;
  }

  private table(): Promise<TableClient> {
    return this.options.table();
  }

  private async historyPlace(): Promise<HistoryPlace> {
    if (this.options.historyTable)
      return { client: await this.options.historyTable(), partition: ownTablePartition };
    return { client: await this.table(), partition: sameTablePartition };
  }

  /** One attempt to take a lease: granted now, or queued with a position, or (try-lock) refused. Never waits. */
  async acquire(name: string, options: AcquireOptions): Promise<AcquireResult> {
    return (await this.attempt(name, normalizeRequest(options), { exact: true })).result;
  }

  /**
   * One poll as a waiting caller makes it (acquireWaiting between sleeps): granted, or queued with
   * a position that is exact near the front and a lower bound further back (no count of the queue).
   */
  async poll(name: string, options: AcquireOptions): Promise<AcquireResult> {
    return (await this.attempt(name, normalizeRequest(options), { exact: false })).result;
  }

  private decisionOptions(name: string): DecisionOptions {
    return {
      lockName: name,
      waiterTtlSeconds: defaultWaiterTtlSeconds,
      newWaiterTtlSeconds: this.waiterTtlSeconds,
      endedTasks: new Set<string>(),
      newSecret: newLeaseSecret,
    };
  }

  private placeCacheKey(pk: string, identity: Required<RequestIdentity>): string {
    return `${pk}\n${indexRowKey(identity)}`;
  }

  /** The bounded read for this request: up to the end of its priority band, stopping at its own row. */
  private readFor(
    client: TableClient,
    pk: string,
    request: AcquireRequest,
    known: KnownPlace | undefined,
  ): Promise<LockSnapshot> {
    return readLockSnapshot(client, pk, {
      before: `${waiterPrefix}${bandOf(request.priority)}.`,
      permitsHint: this.permitsSeen.get(pk) ?? request.permits ?? 1,
      defaultWaiterTtlSeconds,
      stats: this.stats,
      isMine: (w) => w.rowKey === known?.key || sameRequest(w.data, request),
      onDate: (date, sentAt, answeredAt) => this.clock.observeDate(date, sentAt, answeredAt),
    });
  }

  private async attempt(
    name: string,
    request: AcquireRequest,
    mode: { exact: boolean; estimate?: { position: number; fence: number } },
  ): Promise<Attempt> {
    if (request.octopusTaskId) await this.refuseEndedTask(name, request.octopusTaskId);
    const client = await this.table();
    const pk = encodeKey(name);
    const cacheKey = this.placeCacheKey(pk, request);
    // A new place's batch creates the request's index row: one already there (the request has a
    // place, taken by another instance or before a lost answer) refuses it (409), and only then is
    // the index row read. Saves that read on every first join.
    let joinRefused = false;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const cached = this.places.get(cacheKey);
      const snapshot = await this.readFor(client, pk, request, cached);
      if (snapshot.lock) this.permitsSeen.set(pk, snapshot.lock.data.permits);
      const base = {
        ...this.decisionOptions(name),
        newPlace: () => this.newPlace(request, snapshot.readDate),
      };
      let decision = decideAcquire(snapshot, request, base);
      let options = base;
      if (decision.kind === 'queued' || decision.kind === 'refused') {
        // Whenever a waiter asks: free leases whose Octopus task has ended (throttled per lock).
        const ended = await this.endedTasksOfHolders(snapshot);
        if (ended.size > 0) {
          options = { ...options, endedTasks: ended };
          decision = decideAcquire(snapshot, request, options);
        }
      }
      if (
        decision.kind === 'queued' &&
        decision.joined &&
        snapshot.complete === false &&
        (cached !== undefined || joinRefused || (snapshot.lock?.data.ticket ?? 0) > 0)
      ) {
        // Not granted, and the read stopped before the end: this request may have a place further
        // back. Look it up (this process's memory, else the index row) before taking a new one.
        const knownPlace = await this.findPlace(client, pk, request, snapshot, cached);
        if (knownPlace) {
          options = { ...options, knownPlace };
          decision = decideAcquire(snapshot, request, options);
        }
      }
      // A new place's arrival is estimated when deciding: after a calibration's round trip the
      // estimate is that much older (and the clock better), so decide again for a fresh one rather
      // than re-keying the place after its write.
      if (decision.kind === 'queued' && decision.joined && (await this.calibrate(client)))
        decision = decideAcquire(snapshot, request, options);
      try {
        const outcome = await this.carryOut(client, name, snapshot, request, decision, mode);
        if (outcome) return outcome;
      } catch (err) {
        if (!isConflict(err)) throw err;
        this.places.delete(cacheKey);
        if (decision.kind === 'queued' && decision.joined) joinRefused = true;
      }
      // Somebody else wrote first: re-read at once, then back off a little as contention goes on.
      if (attempt > 0) await sleep(jitter(Math.min(50, 2 * attempt)));
    }
    throw new LockError(
      'lock_busy',
      `Lock "${name}" changed under ${maxAttempts} attempts in a row (heavy contention); try again in a moment.`,
    );
  }

  /** Where a new place goes: its arrival in storage time (estimated here; checked after the write). */
  private newPlace(request: AcquireRequest, readDate: Micros): { key: string; ticket: number } {
    const ticket = this.clock.now() ?? readDate;
    return { key: waiterRowKey(request.priority, ticket, newWaiterNonce()), ticket };
  }

  /**
   * Before a new place is written: make sure this process knows storage time to a few milliseconds
   * (one write of a row of its own, no contention), so arrivals from several instances order truly.
   */
  /** Whether it waited for a calibration. */
  private async calibrate(client: TableClient): Promise<boolean> {
    if (this.clock.uncertainty() <= 20_000) return false;
    this.calibrating ??= (async () => {
      try {
        const sentAt = performance.now();
        const response = await client.upsertEntity(
          { partitionKey: '%clock', rowKey: this.clockRow, at: 'calibration' },
          'Replace',
        );
        const stamp = timestampFromEtag(response.etag);
        if (stamp !== undefined) this.clock.observeStamp(stamp, sentAt, performance.now());
      } finally {
        this.calibrating = undefined;
      }
    })();
    await this.calibrating.catch(() => undefined);
    return true;
  }

  /** This request's place beyond the read: from memory, the index row, or (old rows) a search. */
  private async findPlace(
    client: TableClient,
    pk: string,
    request: AcquireRequest,
    snapshot: LockSnapshot,
    cached: KnownPlace | undefined,
  ): Promise<DecisionOptions['knownPlace']> {
    if (cached && performance.now() - cached.writtenAt < cached.ttlSeconds * 1000 - 2000)
      return { key: cached.key, live: true, exists: true };
    const index = await getOrUndefined<Record<string, unknown>>(client, pk, indexRowKey(request));
    let row: Stored<WaiterRow> | undefined;
    if (index && typeof index.waiter === 'string') {
      const found = await getOrUndefined<Record<string, unknown>>(client, pk, index.waiter);
      if (found) row = toWaiterRow(found as Parameters<typeof toWaiterRow>[0]);
      const live = row !== undefined && waiterLive(row, snapshot.readDate, defaultWaiterTtlSeconds);
      return { key: index.waiter, live, exists: row !== undefined, indexEtag: index.etag };
    }
    if ((snapshot.lock?.data.ticket ?? 0) > 0) {
      // Places taken before index rows existed: found by their request key (rare, and only until
      // the queue has once been empty).
      const filter = odata`PartitionKey eq ${pk} and RowKey ge ${waiterPrefix} and RowKey lt ${waitersEnd} and requestKey eq ${request.requestKey}`;
      for await (const e of client.listEntities<Record<string, unknown>>({
        queryOptions: { filter },
      })) {
        const w = toWaiterRow(e);
        if (
          sameRequest(w.data, request) &&
          waiterLive(w, snapshot.readDate, defaultWaiterTtlSeconds)
        )
          return { key: w.rowKey, live: true, exists: true };
      }
    }
    return undefined;
  }

  private async carryOut(
    client: TableClient,
    name: string,
    snapshot: LockSnapshot,
    request: AcquireRequest,
    decision: AcquireDecision,
    mode: { exact: boolean; estimate?: { position: number; fence: number } },
  ): Promise<Attempt | undefined> {
    const pk = snapshot.partitionKey;
    const cacheKey = this.placeCacheKey(pk, request);
    const fence = snapshot.lock?.data.fence ?? 0;
    switch (decision.kind) {
      case 'existing': {
        const h = decision.holder;
        this.places.delete(cacheKey);
        return {
          result: {
            granted: true,
            lock: name,
            holder: h.data.holder,
            leaseId: formatLeaseId(h.data.fence, h.rowKey.slice(h.rowKey.lastIndexOf('-') + 1)),
            fence: h.data.fence,
            expiresAt: new Date(Math.floor(holderExpiresAt(h) / 1000)),
            ttlSeconds: h.data.ttlSeconds,
            reused: true,
          },
          exact: true,
          fence,
        };
      }
      case 'grant': {
        const sentAt = performance.now();
        const holderKey = holderRowKey(decision.fence, decision.secret);
        // Known here before the write lands, so a waiter here that reads the new holder row first
        // already counts on this process's release to wake it.
        this.wakeups.granted(pk, holderKey, request.ttlSeconds, this.places.get(cacheKey)?.key);
        let response: Awaited<ReturnType<TableClient['submitTransaction']>>;
        try {
          response = await client.submitTransaction(decision.actions);
        } catch (err) {
          this.wakeups.ended(pk, holderKey);
          throw err;
        }
        const etag =
          response.subResponses.find((s) => s.rowKey === holderKey)?.etag ??
          response.subResponses[1]?.etag;
        const stamp = timestampFromEtag(etag);
        if (stamp !== undefined) this.clock.observeStamp(stamp, sentAt, performance.now());
        const base = stamp ?? snapshot.readDate;
        this.places.delete(cacheKey);
        this.permitsSeen.set(pk, decision.permits);
        // More permits freed than this grant took: wake that many more waiters here.
        // (Reaped leases granted here are no longer held here either.)
        this.wakeups.freed(
          pk,
          decision.reaped.map((r) => r.holder.rowKey),
          decision.reaped.length - 1,
        );
        this.inBackground(this.recordHistory(pk, decision, request, base, snapshot.readDate));
        return {
          result: {
            granted: true,
            lock: name,
            holder: request.holder,
            leaseId: formatLeaseId(decision.fence, decision.secret),
            fence: decision.fence,
            expiresAt: new Date(Math.floor(leaseEnd(base, request.ttlSeconds) / 1000)),
            ttlSeconds: request.ttlSeconds,
            reused: false,
          },
          exact: true,
          fence: decision.fence,
        };
      }
      case 'queued': {
        let key = decision.key;
        let ticket = decision.ticket;
        const ttl = this.waiterTtlSeconds;
        const sentAt = performance.now();
        if (decision.actions.length > 0) {
          const response = await client.submitTransaction(decision.actions);
          if (decision.joined) {
            const etag = response.subResponses.find((s) => s.rowKey === key)?.etag;
            const stamp = timestampFromEtag(etag);
            if (stamp !== undefined) {
              this.clock.observeStamp(stamp, sentAt, performance.now());
              if (Math.abs(stamp - ticket) > rekeyMicros) {
                const moved = await this.rekey(client, pk, request, key, stamp);
                if (moved) ({ key, ticket } = moved);
              }
            }
          }
          this.places.set(cacheKey, { key, writtenAt: sentAt, ttlSeconds: ttl });
        } else if (decision.unchecked) {
          // A place beyond the read: keep it alive without reading it (it exists only while it is ours).
          const known = this.places.get(cacheKey);
          if (!known || sentAt - known.writtenAt > (known.ttlSeconds * 1000) / 3) {
            await client.updateEntity(
              { partitionKey: pk, rowKey: key, holder: request.holder },
              'Merge',
              { etag: '*' },
            );
            this.places.set(cacheKey, {
              key,
              writtenAt: sentAt,
              ttlSeconds: known?.ttlSeconds ?? ttl,
            });
          }
        } else if (!this.places.has(cacheKey)) {
          this.places.set(cacheKey, { key, writtenAt: sentAt - 1000 * ttl, ttlSeconds: ttl });
        }
        if (this.places.size > 10_000) this.places.clear();
        let ahead = decision.ahead;
        let exact = decision.exact;
        if (mode.exact && (decision.joined || !exact)) {
          // The exact position (a keys-only read of the queue), and the queue's length limit. A
          // waiting caller's polls skip it; its answer does not.
          const counted = await this.countQueue(client, pk, key, snapshot.readDate);
          ahead = counted.ahead;
          exact = true;
          const others = decision.joined ? counted.others : counted.ahead;
          if (others >= this.maxWaiters) {
            await this.dropPlace(client, pk, request, key);
            throw new LockError(
              'queue_full',
              `Lock "${name}" already has ${others} waiters (the limit) ahead of this request; try again later or use another lock name.`,
            );
          }
        }
        let position = ahead + 1;
        if (!exact && mode.estimate)
          position = Math.max(position, mode.estimate.position - (fence - mode.estimate.fence));
        const state = answerState(snapshot);
        const heldHereMs = this.heldHereMs(snapshot, state);
        return {
          ...(heldHereMs !== undefined ? { heldHereMs } : {}),
          result: {
            granted: false,
            lock: name,
            queued: true,
            position,
            ticket,
            permits: snapshot.lock?.data.permits ?? request.permits ?? 1,
            heldBy: state.live.map((h) => h.data.holder),
          },
          key,
          exact,
          fence,
        };
      }
      case 'refused':
        return {
          result: {
            granted: false,
            lock: name,
            queued: false,
            position: null,
            permits: snapshot.lock?.data.permits ?? request.permits ?? 1,
            heldBy: answerState(snapshot).live.map((h) => h.data.holder),
          },
          exact: true,
          fence,
        };
    }
  }

  /** The grant in the history (after the grant: outside the lock's partition, so not in its batch). */
  private async recordHistory(
    pk: string,
    decision: Extract<AcquireDecision, { kind: 'grant' }>,
    request: AcquireRequest,
    grantedAt: Micros,
    readDate: Micros,
  ): Promise<void> {
    // The grant stands whatever happens here; its tombstone (when it ends) says how it ended.
    await this.writeHistory((place) =>
      recordGrant(
        place,
        pk,
        {
          holder: request.holder,
          fence: decision.fence,
          permits: decision.permits,
          ttlSeconds: request.ttlSeconds,
          ...(request.octopusTaskId ? { octopusTaskId: request.octopusTaskId } : {}),
        },
        grantedAt,
      ),
    );
    if (decision.reaped.length > 0)
      await this.writeHistory((place) =>
        recordEnds(place, pk, this.reapedEnds(decision.reaped, readDate)),
      );
  }

  /**
   * One history write, tried again while it fails transiently (bounded, see historyRetryDelaysMs).
   * Never throws: a write finally lost is counted in `historyWrites.failed`.
   */
  private async writeHistory(write: (place: HistoryPlace) => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await write(await this.historyPlace());
        this.historyWrites.written += 1;
        return;
      } catch (err) {
        const delay = historyRetryDelaysMs[attempt];
        if (delay === undefined || !isTransient(err)) {
          this.historyWrites.failed += 1;
          return;
        }
        this.historyWrites.retried += 1;
        await sleep(jitter(delay));
      }
    }
  }

  private reapedEnds(
    reaped: readonly Reaped[],
    at: Micros,
  ): { fence: number; end: EndRecord; at: Micros }[] {
    return reaped.map(({ holder, reason }) => ({
      fence: holder.data.fence,
      end:
        reason === 'expired'
          ? {
              reason,
              endedAt: formatMicros(leaseEnd(holder.timestamp, holder.data.ttlSeconds)),
            }
          : { reason },
      at,
    }));
  }

  /** Move a new place to the key its row's storage time says (the estimate was off by > 100 ms). */
  private async rekey(
    client: TableClient,
    pk: string,
    request: AcquireRequest,
    key: string,
    stamp: Micros,
  ): Promise<{ key: string; ticket: number } | undefined> {
    const row = await getOrUndefined<Record<string, unknown>>(client, pk, key);
    if (!row) return undefined;
    const newKey = waiterRowKey(request.priority, stamp, newWaiterNonce());
    const { etag: _etag, timestamp: _timestamp, partitionKey: _pk, rowKey: _rk, ...data } = row;
    try {
      await client.submitTransaction([
        ['delete', { partitionKey: pk, rowKey: key }],
        [
          'create',
          {
            ...data,
            partitionKey: pk,
            rowKey: newKey,
            ticket: stamp,
            queuedAt: formatMicros(stamp),
          },
        ],
        [
          'update',
          { partitionKey: pk, rowKey: indexRowKey(request), waiter: newKey },
          'Replace',
          { etag: '*' },
        ],
      ]);
      return { key: newKey, ticket: stamp };
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
  }

  /** Live waiters ahead of `key`, and live waiters other than `key` in the whole queue. */
  private async countQueue(
    client: TableClient,
    pk: string,
    key: string,
    readDate: Micros,
  ): Promise<{ ahead: number; others: number }> {
    const filter = odata`PartitionKey eq ${pk} and RowKey ge ${waiterPrefix} and RowKey lt ${waitersEnd}`;
    let ahead = 0;
    let others = 0;
    const pages = client
      .listEntities<Record<string, unknown>>({
        queryOptions: { filter, select: ['RowKey', 'Timestamp', 'waiterTtlSeconds'] },
      })
      .byPage({ maxPageSize: 1000 });
    for await (const page of pages) {
      this.stats.queries += 1;
      this.stats.rows += page.length;
      for (const row of page) {
        const rowKey = row.rowKey ?? '';
        if (rowKey === key) continue;
        const ttl =
          typeof row.waiterTtlSeconds === 'number' ? row.waiterTtlSeconds : defaultWaiterTtlSeconds;
        if (readDate >= parseStorageTime(row.timestamp ?? '') + ttl * 1_000_000) continue;
        others += 1;
        if (rowKey < key) ahead += 1;
      }
    }
    return { ahead, others };
  }

  /** Delete a place of this request (its waiter row and index row). */
  private async dropPlace(
    client: TableClient,
    pk: string,
    identity: Required<RequestIdentity>,
    key: string,
  ): Promise<void> {
    this.places.delete(this.placeCacheKey(pk, identity));
    await client
      .submitTransaction([
        ['delete', { partitionKey: pk, rowKey: key }],
        ['delete', { partitionKey: pk, rowKey: indexRowKey(identity) }],
      ])
      .catch((err: unknown) => {
        if (!isConflict(err)) throw err;
      });
  }

  /**
   * When every permit is held by leases granted in this process, or free and about to be granted
   * to waiters of this process (see `frontBackstopMs`): the ms until the first of those leases runs
   * out unrenewed, by this read (Infinity when none is held yet).
   */
  private heldHereMs(
    snapshot: LockSnapshot,
    { live, permits, waiters }: LockState,
  ): number | undefined {
    const pk = snapshot.partitionKey;
    const leases = live.map((h) => h.rowKey);
    if (leases.length > 0 && !this.wakeups.heldHere(pk, leases)) return undefined;
    // Free permits go to the first live waiters ahead: they must be waiting in this process too
    // (listening here, so their grant is made here and their release wakes the next one here).
    const free = permits - live.length;
    if (free > 0) {
      const next = waiters.slice(0, free);
      if (
        next.length < free ||
        !this.wakeups.listeningHere(
          pk,
          next.map((w) => w.rowKey),
        )
      )
        return undefined;
    }
    return Math.min(Infinity, ...live.map((h) => (holderExpiresAt(h) - snapshot.readDate) / 1000));
  }

  /**
   * A lease bound to a task that has already ended would be revoked by the next check and granted
   * to somebody else while its caller believes it holds it: refuse it before granting (409). A task
   * seen running is trusted for the task-check interval (waiters ask every 50 ms); one seen ended
   * stays ended. When Octopus cannot be asked, the acquire goes on (as before: TTL bounds it).
   */
  private async refuseEndedTask(name: string, taskId: string): Promise<void> {
    const lookup = this.options.endedTasks;
    if (!lookup) return;
    let ended = this.tasksEnded.has(taskId);
    if (!ended) {
      const seen = this.tasksRunning.get(taskId);
      if (seen !== undefined && performance.now() - seen < this.taskCheckIntervalMs) return;
      try {
        ended = (await lookup([taskId])).has(taskId);
      } catch {
        return;
      }
      if (!ended) {
        if (this.tasksRunning.size > 10_000) this.tasksRunning.clear();
        this.tasksRunning.set(taskId, performance.now());
        return;
      }
      if (this.tasksEnded.size > 10_000) this.tasksEnded.clear();
      this.tasksEnded.add(taskId);
      this.tasksRunning.delete(taskId);
    }
    throw new LockError(
      'task_ended',
      `Octopus task ${taskId} has already finished, so a lease on "${name}" bound to it would be freed at once: not granted. Bind the lease to the task that is running (#{Octopus.Task.Id}) or omit octopusTaskId.`,
    );
  }

  /** The ended tasks among this lock's task-bound live holders, at most once per interval per lock. */
  private async endedTasksOfHolders(snapshot: LockSnapshot): Promise<ReadonlySet<string>> {
    const lookup = this.options.endedTasks;
    const taskIds = snapshot.holders
      .filter((h) => !holderExpired(h, snapshot.readDate))
      .map((h) => h.data.octopusTaskId)
      .filter((id): id is string => id !== undefined);
    if (!lookup || taskIds.length === 0) return new Set();
    const now = performance.now();
    const last = this.lastTaskCheck.get(snapshot.partitionKey);
    if (last !== undefined && now - last < this.taskCheckIntervalMs) return new Set();
    this.lastTaskCheck.set(snapshot.partitionKey, now);
    try {
      return await lookup(taskIds);
    } catch {
      // Octopus unreachable: the lease stays until its TTL or the next check; the waiter keeps waiting.
      return new Set();
    }
  }

  /**
   * Acquire, waiting up to `waitMs` for a grant and answering as soon as it is granted. The place in
   * the queue is kept by asking again: every 50 ms near the front, less often further back, and
   * at once when a lease of this lock is released in this process and this waiter is first here.
   * While every permit is held by leases granted here (or goes to waiters here), only that wake-up
   * moves the queue here: waiters then ask only as a backstop (see `frontBackstopMs`).
   */
  async acquireWaiting(
    name: string,
    options: AcquireOptions,
    wait: { waitMs: number; signal?: AbortSignal; onQueued?: (result: NotGranted) => void },
  ): Promise<AcquireResult> {
    const deadline = performance.now() + wait.waitMs;
    const pk = encodeKey(name);
    const request = normalizeRequest(options);
    let key: string | undefined;
    let estimate: { position: number; fence: number } | undefined;
    let farPolls = 0;
    let permits = request.permits ?? 1;
    for (;;) {
      // Subscribe before asking, so a release between our read and our sleep still wakes us.
      const wake = this.wakeups.next(pk, wait.signal, key, permits);
      try {
        const attempt = await this.attempt(name, request, {
          exact: false,
          ...(estimate ? { estimate } : {}),
        });
        const result = attempt.result;
        const left = deadline - performance.now();
        if (result.granted || !result.queued) return result;
        if (left <= 0 || wait.signal?.aborted) {
          if (attempt.exact) return result;
          return (await this.attempt(name, request, { exact: true })).result;
        }
        if (key === undefined) wait.onQueued?.(result);
        key = attempt.key;
        // A caller that has just joined is woken in its queue order from now on, not last.
        wake.setKey(key);
        permits = result.permits;
        const position = result.position ?? 1;
        estimate = { position, fence: attempt.fence };
        // Near the front (its own row was in the read): by position. Further back: less and less
        // often, up to once a second (a release in this process wakes the first waiter here anyway).
        farPolls = attempt.exact ? 0 : farPolls + 1;
        const interval = attempt.exact
          ? pollIntervalMs(position, result.permits)
          : Math.min(1000, 150 * 2 ** (farPolls - 1));
        // Every permit held by leases granted here: their release here wakes the first waiter here,
        // so poll only as a backstop (never past the moment the first of them could run out, nor
        // for longer than a third of this place's TTL).
        const backstop = Math.min(backstopMs, (this.waiterTtlSeconds * 1000) / 3);
        const here = attempt.heldHereMs;
        if (here !== undefined && here > backstop + 2000) {
          const until = performance.now() + Math.min(left, jitter(Math.max(interval, backstop)));
          const front = () => Math.min(until - performance.now(), jitter(frontBackstopMs));
          const far = wake.atFront() ? undefined : until - performance.now();
          // Waiting behind other waiters here: when the one ahead is granted (or gives up), this
          // one is at the front here and shortens its backstop, without a read.
          const moved = await Promise.race([
            sleep(far ?? front()).then(() => false),
            wake.promise.then(() => false),
            far === undefined
              ? new Promise<boolean>(() => undefined)
              : wake.promoted.then(() => true),
          ]);
          if (moved) await Promise.race([sleep(Math.max(0, front())), wake.promise]);
          continue;
        }
        const timer = sleep(Math.min(left, jitter(interval)));
        await Promise.race([timer, wake.promise]);
      } finally {
        wake.cancel();
      }
    }
  }

  /** Extend a lease by its TTL (or a new one). Only the holder can: anyone else gets `not_holder`. */
  async renew(
    name: string,
    leaseId: string,
    ttlSeconds?: number,
  ): Promise<{ leaseId: string; fence: number; expiresAt: Date; ttlSeconds: number }> {
    const lease = parseLease(leaseId);
    const client = await this.table();
    const pk = encodeKey(name);
    const rowKey = holderRowKey(lease.fence, lease.secret);
    const entity: TableEntity<Record<string, unknown>> = { partitionKey: pk, rowKey };
    if (ttlSeconds !== undefined) entity.ttlSeconds = checkTtl(ttlSeconds);
    try {
      // One batch: touch the holder row (If-Match *: it exists only while this lease holds, and only
      // the holder can name it) and the lock row, so a contender that read the lease as expired
      // before this renewal fails its conditional write on the lock row.
      const response = await client.submitTransaction([
        ['update', entity, 'Merge', { etag: '*' }],
        ['update', { partitionKey: pk, rowKey: lockRowKey }, 'Merge', { etag: '*' }],
      ]);
      const etag =
        response.subResponses.find((s) => s.rowKey === rowKey)?.etag ??
        response.subResponses[0]?.etag;
      const base = timestampFromEtag(etag) ?? Date.now() * 1000;
      const ttl = ttlSeconds ?? (await this.ttlOf(client, pk, rowKey));
      this.wakeups.renewed(pk, rowKey, ttl);
      return {
        leaseId,
        fence: lease.fence,
        expiresAt: new Date(Math.floor(leaseEnd(base, ttl) / 1000)),
        ttlSeconds: ttl,
      };
    } catch (err) {
      if (storageStatus(err) === 404)
        throw await lostLeaseError(client, name, lease.fence, 'renew');
      throw err;
    }
  }

  private async ttlOf(client: TableClient, pk: string, rowKey: string): Promise<number> {
    const row = await client.getEntity<Record<string, unknown>>(pk, rowKey);
    return Number(row.ttlSeconds ?? defaultTtlSeconds);
  }

  /** Free a lease. Only the holder can; a repeated release by the holder answers `alreadyReleased`. */
  async release(name: string, leaseId: string): Promise<ReleaseResult> {
    const lease = parseLease(leaseId);
    const client = await this.table();
    const pk = encodeKey(name);
    const end: EndRecord = { reason: 'released', lease: leaseFingerprint(leaseId) };
    const actions: TransactionAction[] = [
      ['delete', { partitionKey: pk, rowKey: holderRowKey(lease.fence, lease.secret) }],
      ['upsert', endEntity(pk, lease.fence, end), 'Merge'],
    ];
    let at: Micros;
    try {
      const response = await client.submitTransaction(actions);
      at = timestampFromEtag(response.subResponses[1]?.etag) ?? Date.now() * 1000;
    } catch (err) {
      if (storageStatus(err) !== 404) throw err;
      const known = await readLeaseEnd(client, pk, lease.fence);
      // The same lease id released it before (for example a retry after a lost response).
      if (known?.reason === 'released' && known.lease === leaseFingerprint(leaseId)) {
        return { released: true, fence: lease.fence, alreadyReleased: true };
      }
      throw await lostLeaseError(client, name, lease.fence, 'release', known);
    }
    // One permit is free: wake the first waiter of this process that could take it.
    this.wakeups.freed(pk, [holderRowKey(lease.fence, lease.secret)]);
    // The tombstone in the lock's partition already says it was released.
    this.inBackground(
      this.writeHistory((place) => recordEnds(place, pk, [{ fence: lease.fence, end, at }])),
    );
    return { released: true, fence: lease.fence, alreadyReleased: false };
  }

  /**
   * Free every lease on a lock now (an operator's decision): the holders' next renew or release is
   * told who did it and why (409), the fence counter is kept (the next grant gets a higher fence),
   * and the history records it. Nobody holding it is not an error (`released` is empty).
   *
   * With `fence`, only the leases granted at or before it are freed (those the operator saw): asking
   * again after a lost answer then never frees a lease granted since, such as the waiter's that the
   * first, applied, call let in. Leases granted after it are listed as `kept`.
   */
  async forceRelease(
    name: string,
    by: { by: string; reason: string; fence?: number | undefined },
  ): Promise<ForceReleaseResult | undefined> {
    const client = await this.table();
    const pk = encodeKey(name);
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const snapshot = await readLockSnapshot(client, pk, {
        before: holdersEnd,
        permitsHint: 40,
        defaultWaiterTtlSeconds,
        stats: this.stats,
      });
      const lock = snapshot.lock;
      if (!lock) return undefined;
      const upTo = by.fence;
      const holders =
        upTo === undefined
          ? snapshot.holders
          : snapshot.holders.filter((h) => h.data.fence <= upTo);
      const kept =
        upTo === undefined
          ? undefined
          : snapshot.holders
              .filter((h) => h.data.fence > upTo)
              .map((h) => ({ holder: h.data.holder, fence: h.data.fence }));
      if (holders.length === 0) {
        return {
          lock: name,
          released: [],
          ...(kept ? { kept } : {}),
          by: by.by,
          reason: by.reason,
          at: null,
          lastFence: lock.data.fence,
        };
      }
      const end: EndRecord = { reason: 'forced', by: by.by, why: by.reason };
      const actions: TransactionAction[] = [
        // Conditional on the lock row: a renewal after our read touched it, and we read again.
        ['update', { partitionKey: pk, rowKey: lockRowKey }, 'Merge', { etag: lock.etag }],
      ];
      for (const h of holders.slice(0, 49)) {
        actions.push(['delete', { partitionKey: pk, rowKey: h.rowKey }]);
        actions.push(['upsert', endEntity(pk, h.data.fence, end, h), 'Merge']);
      }
      let at: Micros;
      try {
        const response = await client.submitTransaction(actions);
        at = timestampFromEtag(response.subResponses[0]?.etag) ?? snapshot.readDate;
      } catch (err) {
        if (!isConflict(err)) throw err;
        if (attempt > 0) await sleep(jitter(Math.min(50, 2 * attempt)));
        continue;
      }
      const freed = holders.slice(0, 49);
      this.wakeups.freed(
        pk,
        freed.map((h) => h.rowKey),
      );
      // The tombstones in the lock's partition say it too.
      await this.writeHistory((place) =>
        recordEnds(
          place,
          pk,
          freed.map((h) => ({ fence: h.data.fence, end, at })),
        ),
      );
      return {
        lock: name,
        released: freed.map((h) => ({
          holder: h.data.holder,
          fence: h.data.fence,
          ...(h.data.octopusTaskId ? { octopusTaskId: h.data.octopusTaskId } : {}),
        })),
        ...(kept ? { kept } : {}),
        by: by.by,
        reason: by.reason,
        at: formatMicros(at),
        lastFence: lock.data.fence,
      };
    }
    throw new LockError(
      'lock_busy',
      `Lock "${name}" changed under ${maxAttempts} attempts in a row (heavy contention); try again in a moment.`,
    );
  }

  /**
   * Give up a place in the queue at once (rather than letting it lapse after the waiter TTL), so
   * the next caller moves up. The place is named like acquire names it: by the requestId that took
   * it, or by the holder name for a place taken without one. A grant is not a place: that request
   * gets `holds_lease` and must release its lease.
   */
  async leave(name: string, options: LeaveOptions, pk = encodeKey(name)): Promise<LeaveResult> {
    const identity = requestIdentity(options);
    const client = await this.table();
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const snapshot = await readLockSnapshot(client, pk, {
        before: holdersEnd,
        permitsHint: 40,
        defaultWaiterTtlSeconds,
        stats: this.stats,
      });
      const holding = snapshot.holders.find(
        (h) => sameRequest(h.data, identity) && !holderExpired(h, snapshot.readDate),
      );
      if (holding) {
        throw new LockError(
          'holds_lease',
          `This request holds lock "${name}" (fence ${holding.data.fence}); it is not waiting, so there is no place to leave. ` +
            'Release the lease with POST /api/locks/{name}/release and the leaseId that acquire returned.',
        );
      }
      const places = await this.placesOf(client, pk, identity, snapshot);
      if (places.length === 0) return { lock: name, left: false };
      const live = places.some((w) => waiterLive(w, snapshot.readDate, defaultWaiterTtlSeconds));
      this.places.delete(this.placeCacheKey(pk, identity));
      try {
        // A place granted meanwhile has its rows deleted by the grant: this batch then fails (404)
        // and the next read finds the grant.
        await client.submitTransaction(waiterDeletes(pk, places));
      } catch (err) {
        if (!isConflict(err)) throw err;
        if (attempt > 0) await sleep(jitter(Math.min(50, 2 * attempt)));
        continue;
      }
      if (live) this.wakeups.notify(pk, 1);
      return { lock: name, left: live };
    }
    throw new LockError(
      'lock_busy',
      `Lock "${name}" changed under ${maxAttempts} attempts in a row (heavy contention); try again in a moment.`,
    );
  }

  /** The waiter rows of a request: through its index row, or (rows from before index rows) a search. */
  private async placesOf(
    client: TableClient,
    pk: string,
    identity: Required<RequestIdentity>,
    snapshot: LockSnapshot,
  ): Promise<Stored<WaiterRow>[]> {
    const index = await getOrUndefined<Record<string, unknown>>(client, pk, indexRowKey(identity));
    if (index && typeof index.waiter === 'string') {
      const row = await getOrUndefined<Record<string, unknown>>(client, pk, index.waiter);
      if (row) return [toWaiterRow(row as Parameters<typeof toWaiterRow>[0])];
      // An index row without its place (should not happen): remove it.
      await client.deleteEntity(pk, indexRowKey(identity)).catch(() => undefined);
      return [];
    }
    if ((snapshot.lock?.data.ticket ?? 0) === 0) return [];
    const filter = odata`PartitionKey eq ${pk} and RowKey ge ${waiterPrefix} and RowKey lt ${waitersEnd} and requestKey eq ${identity.requestKey}`;
    const out: Stored<WaiterRow>[] = [];
    for await (const e of client.listEntities<Record<string, unknown>>({
      queryOptions: { filter },
    })) {
      const w = toWaiterRow(e);
      if (sameRequest(w.data, identity)) out.push(w);
    }
    return out;
  }

  /** Holders, waiters in order (with why each waits), and fences of one lock; undefined if it never existed. */
  async inspect(name: string): Promise<LockView | undefined> {
    return inspectLock(await this.table(), name, defaultWaiterTtlSeconds);
  }

  /** Every lock with its holders and number of waiters. */
  async list(): Promise<LockSummary[]> {
    return listLocks(await this.table(), defaultWaiterTtlSeconds);
  }

  /** Holders of task-bound leases that wait for each other (each waits for a lock another holds). */
  async deadlocks(): Promise<Deadlock[]> {
    return findDeadlocks(await readAllLockSnapshots(await this.table()), defaultWaiterTtlSeconds);
  }

  /** The grants of a lock still in the history (see history.ts), this process's own writes included. */
  async history(name: string): Promise<GrantRecord[]> {
    await this.historyWritten();
    const locks = await this.table();
    const place = await this.historyPlace();
    // History written by instances without a history table (older settings) is read too.
    const places = this.options.historyTable
      ? [place, { client: locks, partition: sameTablePartition }]
      : [place];
    return readHistory(locks, places, name);
  }

  /** Wait for this process's history writes (they follow grants and releases, off their answers). */
  async historyWritten(): Promise<void> {
    while (this.pendingHistory.size > 0) await Promise.allSettled([...this.pendingHistory]);
  }

  /** A history write off the answer (writeHistory: it retries, counts and never throws). */
  private inBackground(write: Promise<void>): void {
    const tracked = write.catch(() => undefined).finally(() => this.pendingHistory.delete(tracked));
    this.pendingHistory.add(tracked);
  }

  /** Any instant at which a lock had more holders than permits (there must be none), and fence order. */
  async checkOverlaps(name: string): Promise<OverlapReport> {
    return findOverlaps(await this.history(name));
  }

  /** Forget grants that ended before `olderThan`, and tombstones older than a day (or `olderThan`). */
  async pruneHistory(olderThan: Date, tombstonesBefore?: Date): Promise<number> {
    return pruneHistory(await this.table(), await this.historyPlace(), olderThan, tombstonesBefore);
  }

  /**
   * Free the task-bound leases whose task has ended. With `endedTaskIds` no Octopus call is made;
   * otherwise the tasks of all task-bound leases are looked up in one batched call. Returns the count.
   */
  async releaseEndedTaskLeases(endedTaskIds?: ReadonlySet<string>): Promise<number> {
    const client = await this.table();
    const filter = odata`RowKey ge ${holderPrefix} and RowKey lt ${holdersEnd}`;
    const bound: { pk: string; taskId: string; holder: Stored<HolderRow> }[] = [];
    for await (const row of client.listEntities<Record<string, unknown>>({
      queryOptions: { filter },
    })) {
      const holder = toHolderRow(row);
      const taskId = holder.data.octopusTaskId;
      if (taskId !== undefined) bound.push({ pk: row.partitionKey ?? '', taskId, holder });
    }
    if (bound.length === 0) return 0;
    let ended = endedTaskIds;
    if (!ended) {
      if (!this.options.endedTasks) return 0;
      ended = await this.options.endedTasks([...new Set(bound.map((b) => b.taskId))]);
    }
    let released = 0;
    for (const { pk, taskId, holder } of bound) {
      if (!ended.has(taskId)) continue;
      const reaped: Reaped[] = [{ holder, reason: 'task-ended' }];
      try {
        const response = await client.submitTransaction(reapActions(pk, reaped));
        released += 1;
        this.wakeups.freed(pk, [holder.rowKey]);
        const at = timestampFromEtag(response.subResponses[1]?.etag) ?? Date.now() * 1000;
        await this.writeHistory((place) => recordEnds(place, pk, this.reapedEnds(reaped, at)));
      } catch (err) {
        // Renewed or released meanwhile: the next poll looks again.
        if (!isConflict(err)) throw err;
      }
    }
    return released;
  }

  // ---- Pools: one grant of any lock of a list, FIFO across the pool, one place per request. ----

  /**
   * One attempt to take any one lock of `names`: the pool's queue (a queue of its own, keyed by the
   * set of names) orders its requests; its head tries each lock in turn (a try-lock, so callers
   * waiting on one lock directly keep their place) and takes the first it is granted. A retried
   * request gets the lease it already has.
   */
  async acquireAny(names: readonly string[], options: AcquireOptions): Promise<AcquireAnyResult> {
    return (await this.attemptAny(names, normalizeRequest(options), { exact: true })).result;
  }

  private async attemptAny(
    names: readonly string[],
    request: AcquireRequest,
    mode: { exact: boolean },
  ): Promise<{ result: AcquireAnyResult; key?: string; exact: boolean }> {
    const pool = [...new Set(names)];
    if (pool.length === 0) throw new RangeError('names: give at least one lock name');
    if (request.octopusTaskId) await this.refuseEndedTask(pool[0] ?? '', request.octopusTaskId);
    const client = await this.table();
    const label = pool.join(', ');
    // Already granted one (a retried request): that one, whatever is free now.
    for (const name of pool) {
      const read = await readLockSnapshot(client, encodeKey(name), {
        before: holdersEnd,
        permitsHint: 40,
        defaultWaiterTtlSeconds,
        stats: this.stats,
      });
      if (
        read.holders.some((h) => sameRequest(h.data, request) && !holderExpired(h, read.readDate))
      ) {
        const again = await this.attempt(name, { ...request, queue: false }, { exact: true });
        if (again.result.granted) {
          await this.leavePool(client, pool, request);
          return { result: again.result, exact: true };
        }
      }
    }
    const pk = poolPartition(pool);
    const cacheKey = this.placeCacheKey(pk, request);
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const cached = this.places.get(cacheKey);
      const read = await this.readFor(client, pk, request, cached);
      // The pool's queue has no holders and no permits of its own: a decision on it only ever
      // keeps or takes a place. Its head tries the locks.
      const snapshot: LockSnapshot = {
        ...read,
        lock: {
          rowKey: lockRowKey,
          etag: '*',
          timestamp: 0,
          data: { name: label, permits: 0, fence: 0, ticket: 0 },
        },
      };
      const live = read.waiters.filter((w) =>
        waiterLive(w, read.readDate, defaultWaiterTtlSeconds),
      );
      const mine = live.find((w) => sameRequest(w.data, request));
      const ahead = mine ? live.indexOf(mine) : live.length;
      const head = ahead === 0 && (mine !== undefined || read.complete !== false);
      const heldBy: string[] = [];
      let permits = 0;
      if (head) {
        for (const name of pool) {
          const tried = await this.attempt(name, { ...request, queue: false }, { exact: false });
          if (tried.result.granted) {
            if (mine) {
              this.places.delete(cacheKey);
              await client.submitTransaction(waiterDeletes(pk, [mine])).catch(() => undefined);
              this.wakeups.notify(pk, 1);
            }
            return { result: tried.result, exact: true };
          }
          heldBy.push(...tried.result.heldBy);
          permits += tried.result.permits;
        }
      }
      const options = {
        ...this.decisionOptions(label),
        newPlace: () => this.newPlace(request, read.readDate),
      };
      let decision = decideAcquire(snapshot, request, options);
      if (decision.kind === 'queued' && decision.joined && read.complete === false) {
        const knownPlace = await this.findPlace(client, pk, request, read, cached);
        decision = decideAcquire(snapshot, request, {
          ...options,
          ...(knownPlace ? { knownPlace } : {}),
        });
      }
      if (decision.kind === 'queued' && decision.joined) await this.calibrate(client);
      try {
        const outcome = await this.carryOut(client, label, snapshot, request, decision, mode);
        if (outcome && !outcome.result.granted) {
          return {
            result: {
              ...outcome.result,
              names: pool,
              permits: permits || pool.length,
              heldBy: [...new Set(heldBy)],
            },
            ...(outcome.key ? { key: outcome.key } : {}),
            exact: outcome.exact,
          };
        }
      } catch (err) {
        if (!isConflict(err)) throw err;
        this.places.delete(cacheKey);
      }
      if (attempt > 0) await sleep(jitter(Math.min(50, 2 * attempt)));
    }
    throw new LockError(
      'lock_busy',
      `The pool ${label} changed under ${maxAttempts} attempts in a row (heavy contention); try again in a moment.`,
    );
  }

  /** acquireAny, waiting up to `waitMs` (woken by a release of any lock of the pool in this process). */
  async acquireAnyWaiting(
    names: readonly string[],
    options: AcquireOptions,
    wait: { waitMs: number; signal?: AbortSignal },
  ): Promise<AcquireAnyResult> {
    const deadline = performance.now() + wait.waitMs;
    const request = normalizeRequest(options);
    const pool = [...new Set(names)];
    let key: string | undefined;
    for (;;) {
      const wakes = [...pool.map(encodeKey), poolPartition(pool)].map((pk) =>
        this.wakeups.next(pk, wait.signal, key),
      );
      try {
        const attempt = await this.attemptAny(pool, request, { exact: false });
        const result = attempt.result;
        const left = deadline - performance.now();
        if (result.granted || !result.queued) return result;
        if (left <= 0 || wait.signal?.aborted) {
          if (attempt.exact) return result;
          return (await this.attemptAny(pool, request, { exact: true })).result;
        }
        key = attempt.key;
        const interval = pollIntervalMs(result.position ?? 1, 1);
        await Promise.race([
          sleep(Math.min(left, jitter(interval))),
          ...wakes.map((w) => w.promise),
        ]);
      } finally {
        for (const w of wakes) w.cancel();
      }
    }
  }

  /** Give up a pool request's place. */
  async leaveAny(names: readonly string[], options: LeaveOptions): Promise<LeaveResult> {
    const pool = [...new Set(names)];
    const left = await this.leave(pool.join(', '), options, poolPartition(pool));
    return { ...left, lock: pool.join(', ') };
  }

  private async leavePool(
    client: TableClient,
    pool: readonly string[],
    identity: Required<RequestIdentity>,
  ): Promise<void> {
    const pk = poolPartition(pool);
    const places = await this.placesOf(client, pk, identity, {
      partitionKey: pk,
      readDate: 0,
      lock: undefined,
      holders: [],
      waiters: [],
    });
    if (places.length > 0)
      await client.submitTransaction(waiterDeletes(pk, places)).catch(() => undefined);
  }
}

/** How soon a waiter asks again: often at the front of the queue (the hand-off gap), rarely at the back. */
function pollIntervalMs(position: number, permits: number): number {
  if (position <= 2 * permits) return 50;
  return position <= 4 * permits ? 150 : 500;
}

/** The partition of a pool's queue: one no lock name can have (encodeKey never writes `%p`). */
export function poolPartition(names: readonly string[]): string {
  const sorted = [...new Set(names)].sort();
  return `%p:${createHash('sha256').update(sorted.join('\n')).digest('hex').slice(0, 40)}`;
}

/** The lock as an answer that is not a grant shows it (expired rows excluded; task ends not looked up). */
function answerState(snapshot: LockSnapshot): LockState {
  return lockState(snapshot, { waiterTtlSeconds: defaultWaiterTtlSeconds, endedTasks: new Set() });
}
