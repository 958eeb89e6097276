// Named lease locks with N permits on Table Storage: acquire (FIFO, priorities, try-lock), renew, release, inspect.
import { maxTtlSeconds } from './limits.js';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  odata,
  type TableClient,
  type TableEntity,
  type TransactionAction,
} from '@azure/data-tables';
import { storageStatus } from '../storage/conditional.js';
import { encodeKey } from '../storage/keys.js';
import {
  decideAcquire,
  lockState,
  maxPermits,
  reapActions,
  type AcquireDecision,
  type Reaped,
} from './acquireDecision.js';
import { LockError } from './errors.js';
import { formatMicros, leaseEnd, timestampFromEtag, type Micros } from './expiry.js';
import {
  historyEndKey,
  holderPrefix,
  holderRowKey,
  lockRowKey,
  maxPriority,
  newLeaseSecret,
  parseLeaseId,
  formatLeaseId,
  waiterPrefix,
} from './rows.js';
import {
  holderExpired,
  holderExpiresAt,
  readLockSnapshot,
  toHolderRow,
  toLockRow,
  toWaiterRow,
  waiterLive,
  dateHeaderMicros,
  type LockSnapshot,
  type Stored,
} from './snapshot.js';
import type { HolderRow, LockRow, WaiterRow } from './rows.js';
import { LockWakeups } from './wakeups.js';
import {
  findOverlaps,
  pruneHistory,
  readHistory,
  type GrantRecord,
  type OverlapReport,
} from './history.js';

/** Given task ids, the ones whose Octopus task has finished, failed, been cancelled or timed out. */
export type EndedTaskLookup = (taskIds: readonly string[]) => Promise<ReadonlySet<string>>;

export interface LeaseLocksOptions {
  /** The `locks` table. */
  table: () => Promise<TableClient>;
  /** Octopus task lookup for task-bound leases; without it they are freed only by TTL or the status poll. */
  endedTasks?: EndedTaskLookup;
  /** A waiter keeps its place while it asks again within this many seconds (default 30). */
  waiterTtlSeconds?: number;
  /** At most this many live waiters per lock (default 500). */
  maxWaiters?: number;
  /** A waiting caller checks the tasks of task-bound holders at most this often (default 5 s). */
  taskCheckIntervalMs?: number;
  wakeups?: LockWakeups;
}

export interface AcquireOptions {
  /** Who asks, for people reading the lock's state (e.g. "Deploy web to prod, task ServerTasks-12 on web01"). */
  holder: string;
  /** N (1 = a mutex). Everyone using a lock must agree; omit to use the stored value (1 for a new lock). */
  permits?: number;
  /** Lease length (default 60 s, 1 s to 1 day). */
  ttlSeconds?: number;
  /** Bind the lease to this Octopus task: it is freed as soon as the task ends. */
  octopusTaskId?: string;
  /** 0..9, higher first (default 0); FIFO within a priority. */
  priority?: number;
  /** Identifies this acquire across retries; defaults to `holder`. */
  requestId?: string;
  /** Join the queue when not granted (default true); false is a try-lock. */
  queue?: boolean;
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
  ticket?: number;
  permits: number;
  /** The current holders' names. */
  heldBy: string[];
}

export type AcquireResult = Grant | NotGranted;

export interface HolderView {
  holder: string;
  fence: number;
  grantedAt: string;
  expiresAt: string;
  ttlSeconds: number;
  octopusTaskId?: string;
  /** Past its TTL and not yet taken over (a waiter's next request frees it). */
  expired: boolean;
}

export interface WaiterView {
  position: number;
  holder: string;
  priority: number;
  ticket: number;
  queuedAt: string;
  octopusTaskId?: string;
  why: string;
}

export interface LockView {
  name: string;
  permits: number;
  /** The fence of the latest grant. */
  lastFence: number;
  /** Storage time of the read. */
  readAt: string;
  holders: HolderView[];
  waiters: WaiterView[];
}

export interface LockSummary {
  name: string;
  permits: number;
  lastFence: number;
  holders: string[];
  waiters: number;
}

export interface ReleaseResult {
  released: true;
  fence: number;
  /** The lease had already been released by its holder (a repeated release). */
  alreadyReleased: boolean;
}

const defaultTtlSeconds = 60;
export { maxTtlSeconds } from './limits.js';
const maxAttempts = 60;

const isConflict = (err: unknown): boolean => [404, 409, 412].includes(storageStatus(err) ?? 0);

function jitter(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

function isoFromMicros(micros: Micros): string {
  return new Date(Math.floor(micros / 1000)).toISOString();
}

export class LeaseLocks {
  readonly wakeups: LockWakeups;
  private readonly waiterTtlSeconds: number;
  private readonly maxWaiters: number;
  private readonly taskCheckIntervalMs: number;
  private readonly lastTaskCheck = new Map<string, number>();

  constructor(private readonly options: LeaseLocksOptions) {
    this.wakeups = options.wakeups ?? new LockWakeups();
    this.waiterTtlSeconds = options.waiterTtlSeconds ?? 30;
    this.maxWaiters = options.maxWaiters ?? 500;
    this.taskCheckIntervalMs = options.taskCheckIntervalMs ?? 5000;
  }

  private table(): Promise<TableClient> {
    return this.options.table();
  }

  /** One attempt to take a lease: granted now, or queued with a position, or (try-lock) refused. Never waits. */
  async acquire(name: string, options: AcquireOptions): Promise<AcquireResult> {
    const request = normalizeRequest(options);
    const client = await this.table();
    const pk = encodeKey(name);
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const snapshot = await readLockSnapshot(client, pk);
      const decisionOptions = {
        lockName: name,
        waiterTtlSeconds: this.waiterTtlSeconds,
        maxWaiters: this.maxWaiters,
        endedTasks: new Set<string>() as ReadonlySet<string>,
        newSecret: newLeaseSecret,
      };
      let decision = decideAcquire(snapshot, request, decisionOptions);
      if (decision.kind === 'queued' || decision.kind === 'refused') {
        // Whenever a waiter asks: free leases whose Octopus task has ended (throttled per lock).
        const ended = await this.endedTasksOfHolders(snapshot);
        if (ended.size > 0)
          decision = decideAcquire(snapshot, request, { ...decisionOptions, endedTasks: ended });
      }
      try {
        const result = await this.carryOut(client, name, snapshot, request, decision);
        if (result) return result;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
      // Somebody else wrote first: re-read at once, then back off a little as contention goes on.
      if (attempt > 0) await sleep(jitter(Math.min(50, 2 * attempt)));
    }
    throw new LockError(
      'lock_busy',
      `Lock "${name}" changed under ${maxAttempts} attempts in a row (heavy contention); try again in a moment.`,
    );
  }

  private async carryOut(
    client: TableClient,
    name: string,
    snapshot: LockSnapshot,
    request: ReturnType<typeof normalizeRequest>,
    decision: AcquireDecision,
  ): Promise<AcquireResult | undefined> {
    const heldBy = lockState(snapshot, {
      waiterTtlSeconds: this.waiterTtlSeconds,
      endedTasks: new Set(),
    }).live.map((h) => h.data.holder);
    switch (decision.kind) {
      case 'existing': {
        const h = decision.holder;
        return {
          granted: true,
          lock: name,
          holder: h.data.holder,
          leaseId: formatLeaseId(h.data.fence, h.rowKey.slice(h.rowKey.lastIndexOf('-') + 1)),
          fence: h.data.fence,
          expiresAt: new Date(Math.floor(holderExpiresAt(h) / 1000)),
          ttlSeconds: h.data.ttlSeconds,
          reused: true,
        };
      }
      case 'grant': {
        const response = await client.submitTransaction(decision.actions);
        const holderKey = holderRowKey(decision.fence, decision.secret);
        const etag =
          response.subResponses.find((s) => s.rowKey === holderKey)?.etag ??
          response.subResponses[1]?.etag;
        const base = timestampFromEtag(etag) ?? snapshot.readDate;
        if (decision.reaped.length > 1) this.wakeups.notify(snapshot.partitionKey);
        return {
          granted: true,
          lock: name,
          holder: request.holder,
          leaseId: formatLeaseId(decision.fence, decision.secret),
          fence: decision.fence,
          expiresAt: new Date(Math.floor(leaseEnd(base, request.ttlSeconds) / 1000)),
          ttlSeconds: request.ttlSeconds,
          reused: false,
        };
      }
      case 'queued':
        if (decision.actions.length > 0) await client.submitTransaction(decision.actions);
        return {
          granted: false,
          lock: name,
          queued: true,
          position: decision.position,
          ticket: decision.ticket,
          permits: snapshot.lock?.data.permits ?? request.permits ?? 1,
          heldBy,
        };
      case 'refused':
        return {
          granted: false,
          lock: name,
          queued: false,
          position: null,
          permits: snapshot.lock?.data.permits ?? request.permits ?? 1,
          heldBy,
        };
    }
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
   * at once when a lease of this lock is released in this process.
   */
  async acquireWaiting(
    name: string,
    options: AcquireOptions,
    wait: { waitMs: number; signal?: AbortSignal },
  ): Promise<AcquireResult> {
    const deadline = performance.now() + wait.waitMs;
    const pk = encodeKey(name);
    for (;;) {
      // Subscribe before asking, so a release between our read and our sleep still wakes us.
      const wake = this.wakeups.next(pk, wait.signal);
      try {
        const result = await this.acquire(name, options);
        const left = deadline - performance.now();
        if (result.granted || !result.queued || left <= 0 || wait.signal?.aborted) return result;
        const position = result.position ?? 1;
        const interval = pollIntervalMs(position, result.permits);
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
      return {
        leaseId,
        fence: lease.fence,
        expiresAt: new Date(Math.floor(leaseEnd(base, ttl) / 1000)),
        ttlSeconds: ttl,
      };
    } catch (err) {
      if (storageStatus(err) === 404)
        throw await this.lostLease(client, name, lease.fence, 'renew');
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
    const actions: TransactionAction[] = [
      ['delete', { partitionKey: pk, rowKey: holderRowKey(lease.fence, lease.secret) }],
      [
        'upsert',
        {
          partitionKey: pk,
          rowKey: historyEndKey(lease.fence),
          kind: 'end',
          fence: lease.fence,
          reason: 'released',
          lease: leaseFingerprint(leaseId),
        },
        'Merge',
      ],
    ];
    try {
      await client.submitTransaction(actions);
    } catch (err) {
      if (storageStatus(err) !== 404) throw err;
      const end = await this.endOf(client, pk, lease.fence);
      // The same lease id released it before (for example a retry after a lost response).
      if (end?.reason === 'released' && end.lease === leaseFingerprint(leaseId)) {
        return { released: true, fence: lease.fence, alreadyReleased: true };
      }
      throw await this.lostLease(client, name, lease.fence, 'release', end);
    } finally {
      this.wakeups.notify(pk);
    }
    return { released: true, fence: lease.fence, alreadyReleased: false };
  }

  private async endOf(
    client: TableClient,
    pk: string,
    fence: number,
  ): Promise<
    { reason: string; endedAt: string | undefined; lease: string | undefined } | undefined
  > {
    try {
      const row = await client.getEntity<Record<string, unknown>>(pk, historyEndKey(fence));
      return {
        reason: String(row.reason ?? ''),
        endedAt: typeof row.endedAt === 'string' ? row.endedAt : undefined,
        lease: typeof row.lease === 'string' ? row.lease : undefined,
      };
    } catch (err) {
      if (storageStatus(err) === 404) return undefined;
      throw err;
    }
  }

  private async lostLease(
    client: TableClient,
    name: string,
    fence: number,
    action: 'renew' | 'release',
    knownEnd?: { reason: string; endedAt: string | undefined },
  ): Promise<LockError> {
    const end = knownEnd ?? (await this.endOf(client, encodeKey(name), fence));
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
      case 'released':
        return new LockError('not_holder', `${what}: it has already been released.`);
      default:
        return new LockError(
          'not_holder',
          `${what}: this lease id does not hold it (wrong lock name or lease id, or not the holder). Only the holder that was granted the lease can renew or release it.`,
        );
    }
  }

  /** Holders, waiters in order (with why each waits), and fences of one lock; undefined if it never existed. */
  async inspect(name: string): Promise<LockView | undefined> {
    const client = await this.table();
    const snapshot = await readLockSnapshot(client, encodeKey(name));
    if (!snapshot.lock && snapshot.holders.length === 0 && snapshot.waiters.length === 0)
      return undefined;
    const state = lockState(snapshot, {
      waiterTtlSeconds: this.waiterTtlSeconds,
      endedTasks: new Set(),
    });
    const heldBy = state.live.map((h) => h.data.holder);
    return {
      name: snapshot.lock?.data.name ?? name,
      permits: state.permits,
      lastFence: snapshot.lock?.data.fence ?? 0,
      readAt: isoFromMicros(snapshot.readDate),
      holders: snapshot.holders.map((h) => holderView(h, snapshot.readDate)),
      waiters: state.waiters.map((w, i) => ({
        ...waiterView(w, i + 1),
        why: whyWaiting(i, state.free, state.permits, heldBy),
      })),
    };
  }

  /** Every lock with its holders and number of waiters. */
  async list(): Promise<LockSummary[]> {
    const client = await this.table();
    let readDate: Micros | undefined;
    const locks = new Map<
      string,
      { lock?: Stored<LockRow>; holders: Stored<HolderRow>[]; waiters: Stored<WaiterRow>[] }
    >();
    const entry = (pk: string) => {
      let e = locks.get(pk);
      if (!e) {
        e = { holders: [], waiters: [] };
        locks.set(pk, e);
      }
      return e;
    };
    const filter = odata`RowKey eq ${lockRowKey} or RowKey ge ${holderPrefix}`;
    for await (const row of client.listEntities<Record<string, unknown>>({
      queryOptions: { filter },
      onResponse: (r) => {
        readDate ??= dateHeaderMicros(r.headers.get('date'));
      },
    })) {
      const key = row.rowKey ?? '';
      const e = entry(row.partitionKey ?? '');
      if (key === lockRowKey) e.lock = toLockRow(row);
      else if (key.startsWith(holderPrefix)) e.holders.push(toHolderRow(row));
      else if (key.startsWith(waiterPrefix)) e.waiters.push(toWaiterRow(row));
    }
    const now = readDate ?? Date.now() * 1000;
    const out: LockSummary[] = [];
    for (const [, e] of locks) {
      if (!e.lock) continue;
      out.push({
        name: e.lock.data.name,
        permits: e.lock.data.permits,
        lastFence: e.lock.data.fence,
        holders: e.holders.filter((h) => !holderExpired(h, now)).map((h) => h.data.holder),
        waiters: e.waiters.filter((w) => waiterLive(w, now, this.waiterTtlSeconds)).length,
      });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The grants of a lock still in the history (see history.ts). */
  async history(name: string): Promise<GrantRecord[]> {
    return readHistory(await this.table(), name);
  }

  /** Any instant at which a lock had more holders than permits (there must be none), and fence order. */
  async checkOverlaps(name: string): Promise<OverlapReport> {
    return findOverlaps(await this.history(name));
  }

  /** Forget grants that ended before `olderThan`. */
  async pruneHistory(olderThan: Date): Promise<number> {
    return pruneHistory(await this.table(), olderThan);
  }

  /**
   * Free the task-bound leases whose task has ended. With `endedTaskIds` no Octopus call is made;
   * otherwise the tasks of all task-bound leases are looked up in one batched call. Returns the count.
   */
  async releaseEndedTaskLeases(endedTaskIds?: ReadonlySet<string>): Promise<number> {
    const client = await this.table();
    const filter = odata`RowKey ge ${holderPrefix} and RowKey lt ${'l.'}`;
    const bound: Stored<HolderRow>[] = [];
    const partitionOf = new Map<Stored<HolderRow>, string>();
    for await (const row of client.listEntities<Record<string, unknown>>({
      queryOptions: { filter },
    })) {
      const holder = toHolderRow(row);
      if (holder.data.octopusTaskId === undefined) continue;
      bound.push(holder);
      partitionOf.set(holder, row.partitionKey ?? '');
    }
    if (bound.length === 0) return 0;
    let ended = endedTaskIds;
    if (!ended) {
      if (!this.options.endedTasks) return 0;
      ended = await this.options.endedTasks([
        ...new Set(bound.map((h) => h.data.octopusTaskId ?? '')),
      ]);
    }
    let released = 0;
    for (const holder of bound) {
      if (!ended.has(holder.data.octopusTaskId ?? '')) continue;
      const pk = partitionOf.get(holder) ?? '';
      const reaped: Reaped[] = [{ holder, reason: 'task-ended' }];
      try {
        await client.submitTransaction(reapActions(pk, reaped));
        released += 1;
        this.wakeups.notify(pk);
      } catch (err) {
        // Renewed or released meanwhile: the next poll looks again.
        if (!isConflict(err)) throw err;
      }
    }
    return released;
  }
}

/** How soon a waiter asks again: often at the front of the queue (the hand-off gap), rarely at the back. */
function pollIntervalMs(position: number, permits: number): number {
  if (position <= 2 * permits) return 50;
  return position <= 4 * permits ? 150 : 500;
}

function holderView(h: Stored<HolderRow>, readDate: Micros): HolderView {
  return {
    holder: h.data.holder,
    fence: h.data.fence,
    grantedAt: h.data.grantedAt,
    expiresAt: formatMicros(holderExpiresAt(h)),
    ttlSeconds: h.data.ttlSeconds,
    ...(h.data.octopusTaskId ? { octopusTaskId: h.data.octopusTaskId } : {}),
    expired: holderExpired(h, readDate),
  };
}

function waiterView(w: Stored<WaiterRow>, position: number): Omit<WaiterView, 'why'> {
  return {
    position,
    holder: w.data.holder,
    priority: w.data.priority,
    ticket: w.data.ticket,
    queuedAt: w.data.queuedAt,
    ...(w.data.octopusTaskId ? { octopusTaskId: w.data.octopusTaskId } : {}),
  };
}

function whyWaiting(index: number, free: number, permits: number, heldBy: string[]): string {
  if (index < free) return 'a permit is free: granted on its next request';
  const held = `${heldBy.length} of ${permits} permit(s) held by ${heldBy.join(', ') || 'nobody'}`;
  const ahead = index - free;
  return ahead > 0 ? `${held}; ${ahead} waiter(s) ahead` : `${held}; next in line`;
}

/** A short hash of a lease id, kept with a release so a repeated release can be recognised. */
function leaseFingerprint(leaseId: string): string {
  return createHash('sha256').update(leaseId).digest('hex').slice(0, 16);
}

function checkTtl(ttlSeconds: number): number {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > maxTtlSeconds) {
    throw new RangeError(`ttlSeconds must be a whole number from 1 to ${maxTtlSeconds}`);
  }
  return ttlSeconds;
}

function parseLease(leaseId: string): { fence: number; secret: string } {
  const lease = parseLeaseId(leaseId);
  if (!lease) {
    throw new LockError(
      'invalid_lease_id',
      'leaseId: not a lease id of this coordinator (expected "<fence>.<24 hex digits>" as returned by acquire).',
    );
  }
  return lease;
}

function normalizeRequest(options: AcquireOptions) {
  const priority = options.priority ?? 0;
  if (!Number.isInteger(priority) || priority < 0 || priority > maxPriority) {
    throw new RangeError(`priority must be a whole number from 0 to ${maxPriority}`);
  }
  if (
    options.permits !== undefined &&
    (!Number.isInteger(options.permits) || options.permits < 1 || options.permits > maxPermits)
  ) {
    throw new RangeError(`permits must be a whole number from 1 to ${maxPermits}`);
  }
  return {
    holder: options.holder,
    requestKey: options.requestId ?? options.holder,
    permits: options.permits,
    ttlSeconds: checkTtl(options.ttlSeconds ?? defaultTtlSeconds),
    octopusTaskId: options.octopusTaskId,
    priority,
    queue: options.queue ?? true,
  };
}
