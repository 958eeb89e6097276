// Named lease locks with N permits on Table Storage: acquire (FIFO, priorities, try-lock), renew, release, inspect.
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
  reapActions,
  type AcquireDecision,
  type AcquireRequest,
  type Reaped,
} from './acquireDecision.js';
import { LockError } from './errors.js';
import { leaseEnd, timestampFromEtag } from './expiry.js';
import {
  findOverlaps,
  pruneHistory,
  readHistory,
  type GrantRecord,
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
import { inspectLock, listLocks, type LockSummary, type LockView } from './lockViews.js';
import { leaseFingerprint, lostLeaseError, readLeaseEnd } from './lostLease.js';
import {
  formatLeaseId,
  historyEndKey,
  holderPrefix,
  holderRowKey,
  lockRowKey,
  newLeaseSecret,
  sameRequest,
  type HolderRow,
} from './rows.js';
import {
  holderExpired,
  holderExpiresAt,
  readLockSnapshot,
  toHolderRow,
  waiterLive,
  type LockSnapshot,
  type Stored,
} from './snapshot.js';
import { LockWakeups } from './wakeups.js';

/** A waiter keeps its place while it asks again within this many seconds. */
export const defaultWaiterTtlSeconds = 30;

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

const maxAttempts = 60;

const isConflict = (err: unknown): boolean => [404, 409, 412].includes(storageStatus(err) ?? 0);

function jitter(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

export class LeaseLocks {
  readonly wakeups: LockWakeups;
  private readonly waiterTtlSeconds: number;
  private readonly maxWaiters: number;
  private readonly taskCheckIntervalMs: number;
  private readonly lastTaskCheck = new Map<string, number>();
  /** Tasks seen running (performance.now() of the check) and tasks seen ended (they stay ended). */
  private readonly tasksRunning = new Map<string, number>();
  private readonly tasksEnded = new Set<string>();

  constructor(private readonly options: LeaseLocksOptions) {
    this.wakeups = options.wakeups ?? new LockWakeups();
    this.waiterTtlSeconds = options.waiterTtlSeconds ?? defaultWaiterTtlSeconds;
    this.maxWaiters = options.maxWaiters ?? 500;
    this.taskCheckIntervalMs = options.taskCheckIntervalMs ?? 5000;
  }

  private table(): Promise<TableClient> {
    return this.options.table();
  }

  /** One attempt to take a lease: granted now, or queued with a position, or (try-lock) refused. Never waits. */
  async acquire(name: string, options: AcquireOptions): Promise<AcquireResult> {
    const request = normalizeRequest(options);
    if (request.octopusTaskId) await this.refuseEndedTask(name, request.octopusTaskId);
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
    request: AcquireRequest,
    decision: AcquireDecision,
  ): Promise<AcquireResult | undefined> {
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
          heldBy: this.heldBy(snapshot),
        };
      case 'refused':
        return {
          granted: false,
          lock: name,
          queued: false,
          position: null,
          permits: snapshot.lock?.data.permits ?? request.permits ?? 1,
          heldBy: this.heldBy(snapshot),
        };
    }
  }

  /** The live holders' names, for an answer that is not a grant. */
  private heldBy(snapshot: LockSnapshot): string[] {
    return lockState(snapshot, {
      waiterTtlSeconds: this.waiterTtlSeconds,
      endedTasks: new Set(),
    }).live.map((h) => h.data.holder);
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
      const end = await readLeaseEnd(client, pk, lease.fence);
      // The same lease id released it before (for example a retry after a lost response).
      if (end?.reason === 'released' && end.lease === leaseFingerprint(leaseId)) {
        return { released: true, fence: lease.fence, alreadyReleased: true };
      }
      throw await lostLeaseError(client, name, lease.fence, 'release', end);
    } finally {
      this.wakeups.notify(pk);
    }
    return { released: true, fence: lease.fence, alreadyReleased: false };
  }

  /**
   * Give up a place in the queue at once (rather than letting it lapse after the waiter TTL), so
   * the next caller moves up. The place is named like acquire names it: by the requestId that took
   * it, or by the holder name for a place taken without one. A grant is not a place: that request
   * gets `holds_lease` and must release its lease.
   */
  async leave(name: string, options: LeaveOptions): Promise<LeaveResult> {
    const identity = requestIdentity(options);
    const client = await this.table();
    const pk = encodeKey(name);
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const snapshot = await readLockSnapshot(client, pk);
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
      const places = snapshot.waiters.filter((w) => sameRequest(w.data, identity));
      if (places.length === 0) return { lock: name, left: false };
      const live = places.some((w) => waiterLive(w, snapshot.readDate, this.waiterTtlSeconds));
      try {
        // A place granted meanwhile has its row deleted by the grant: this batch then fails (404)
        // and the next read finds the grant.
        await client.submitTransaction(
          places.map((w): TransactionAction => ['delete', { partitionKey: pk, rowKey: w.rowKey }]),
        );
      } catch (err) {
        if (!isConflict(err)) throw err;
        if (attempt > 0) await sleep(jitter(Math.min(50, 2 * attempt)));
        continue;
      }
      if (live) this.wakeups.notify(pk);
      return { lock: name, left: live };
    }
    throw new LockError(
      'lock_busy',
      `Lock "${name}" changed under ${maxAttempts} attempts in a row (heavy contention); try again in a moment.`,
    );
  }

  /** Holders, waiters in order (with why each waits), and fences of one lock; undefined if it never existed. */
  async inspect(name: string): Promise<LockView | undefined> {
    return inspectLock(await this.table(), name, this.waiterTtlSeconds);
  }

  /** Every lock with its holders and number of waiters. */
  async list(): Promise<LockSummary[]> {
    return listLocks(await this.table(), this.waiterTtlSeconds);
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
