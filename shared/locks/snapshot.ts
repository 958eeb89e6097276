// Reads of a lock's partition with the storage time of the read: the bounded read a decision needs
// (lock row, holders, and the queue only as far as the caller), and full reads for people to look at.
import { odata, type TableClient, type TableEntityResult } from '@azure/data-tables';
import { leaseEnd, leaseExpired, parseStorageTime, type Micros } from './expiry.js';
import {
  holderPrefix,
  holdersEnd,
  lockRowKey,
  waiterPrefix,
  waitersEnd,
  type HolderRow,
  type KeyedBy,
  type LockRow,
  type WaiterRow,
} from './rows.js';

export interface Stored<T> {
  rowKey: string;
  etag: string;
  /** The row's Timestamp: storage time of its last write. */
  timestamp: Micros;
  data: T;
}

export interface LockSnapshot {
  partitionKey: string;
  /** Storage time of this read (the Date header, 1 s precision, never later than the true time). */
  readDate: Micros;
  lock: Stored<LockRow> | undefined;
  holders: Stored<HolderRow>[];
  /** In queue order (row key order): every waiter, or (`complete` false) the head of the queue. */
  waiters: Stored<WaiterRow>[];
  /** False when the read stopped before the end of its range (the queue goes on past `waiters`). */
  complete?: boolean;
}

type Entity = TableEntityResult<Record<string, unknown>>;

/** Counts what the lock module reads, for benchmarks (rows returned and requests made). */
export class LockReadStats {
  rows = 0;
  queries = 0;
  reset(): { rows: number; queries: number } {
    const out = { rows: this.rows, queries: this.queries };
    this.rows = 0;
    this.queries = 0;
    return out;
  }
}

const str = (e: Entity, key: string): string =>
  typeof e[key] === 'string' ? (e[key] as string) : '';
const optStr = (e: Entity, key: string): string | undefined =>
  typeof e[key] === 'string' && e[key] !== '' ? (e[key] as string) : undefined;
const keyedBy = (e: Entity): { keyedBy?: KeyedBy } =>
  e.keyedBy === 'requestId' || e.keyedBy === 'holder' ? { keyedBy: e.keyedBy } : {};
const num = (e: Entity, key: string): number =>
  typeof e[key] === 'number' ? (e[key] as number) : Number(e[key] ?? 0);

function stored<T>(e: Entity, data: T): Stored<T> {
  return {
    rowKey: e.rowKey ?? '',
    etag: e.etag,
    timestamp: parseStorageTime(e.timestamp ?? ''),
    data,
  };
}

export function toLockRow(e: Entity): Stored<LockRow> {
  return stored(e, {
    name: str(e, 'name'),
    permits: num(e, 'permits'),
    fence: num(e, 'fence'),
    ticket: num(e, 'ticket'),
  });
}

export function toHolderRow(e: Entity): Stored<HolderRow> {
  const octopusTaskId = optStr(e, 'octopusTaskId');
  return stored(e, {
    holder: str(e, 'holder'),
    requestKey: str(e, 'requestKey'),
    ...keyedBy(e),
    fence: num(e, 'fence'),
    ttlSeconds: num(e, 'ttlSeconds'),
    grantedAt: str(e, 'grantedAt'),
    ...(octopusTaskId ? { octopusTaskId } : {}),
  });
}

export function toWaiterRow(e: Entity): Stored<WaiterRow> {
  const octopusTaskId = optStr(e, 'octopusTaskId');
  const ttl = e.waiterTtlSeconds;
  return stored(e, {
    holder: str(e, 'holder'),
    requestKey: str(e, 'requestKey'),
    ...keyedBy(e),
    ticket: num(e, 'ticket'),
    priority: num(e, 'priority'),
    queuedAt: str(e, 'queuedAt'),
    ...(octopusTaskId ? { octopusTaskId } : {}),
    ...(typeof ttl === 'number' && ttl > 0 ? { waiterTtlSeconds: ttl } : {}),
  });
}

/** Parse an HTTP Date header to µs, or undefined. */
export function dateHeaderMicros(value: string | undefined | null): Micros | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms * 1000;
}

export interface BoundedRead {
  /** Read waiters up to and including this key (a waiter's own row), or before `before`. */
  through?: string;
  /** Read waiters with keys before this one (where a newcomer's row would go). */
  before?: string;
  /** The lock's permits as last known (sizes the pages; the lock row read decides). */
  permitsHint: number;
  /** Waiter TTL for rows that carry none. */
  defaultWaiterTtlSeconds: number;
  stats?: LockReadStats;
  /** Recognises the caller's own waiter row: the read stops there (everything ahead is known). */
  isMine?: (waiter: Stored<WaiterRow>) => boolean;
  /** Called with the performance.now() interval and Date of the first answer (clock estimates). */
  onDate?: (date: Micros, sentAt: number, answeredAt: number) => void;
}

/**
 * Read the lock row, every holder, and the queue from its head only as far as a decision needs:
 * pages of permits + 2 rows, stopping once the live waiters seen ahead fill the permits that are
 * free (then the caller cannot be granted and need not know more), or at the end of the range.
 * The lock row sorts first, so a grant that happened after it was read always changed its etag and
 * makes our conditional write fail: later pages can only show fewer or fresher holders.
 */
export async function readLockSnapshot(
  client: TableClient,
  partitionKey: string,
  bound?: BoundedRead,
): Promise<LockSnapshot> {
  let readDate: Micros | undefined;
  const snapshot = emptySnapshot(partitionKey, 0);
  const end = bound?.through ?? bound?.before ?? waitersEnd;
  const op = bound?.through !== undefined ? 'le' : 'lt';
  const range =
    op === 'le'
      ? odata`PartitionKey eq ${partitionKey} and RowKey le ${end}`
      : odata`PartitionKey eq ${partitionKey} and RowKey lt ${end}`;
  const filter = `${range} and (RowKey eq '${lockRowKey}' or RowKey ge '${holderPrefix}')`;
  const sentAt = performance.now();
  const pages = client
    .listEntities<Record<string, unknown>>({
      queryOptions: { filter },
      onResponse: (response) => {
        if (readDate !== undefined) return;
        readDate = dateHeaderMicros(response.headers.get('date'));
        if (readDate !== undefined) bound?.onDate?.(readDate, sentAt, performance.now());
      },
    })
    .byPage(bound ? { maxPageSize: bound.permitsHint + 2 } : {});
  let complete = true;
  for await (const page of pages) {
    if (bound?.stats) {
      bound.stats.queries += 1;
      bound.stats.rows += page.length;
    }
    for (const row of page) addRow(snapshot, row);
    if (!page.continuationToken) break;
    if (bound && enoughAhead(snapshot, readDate ?? 0, bound)) {
      complete = false;
      break;
    }
  }
  if (readDate === undefined)
    throw new Error('Table Storage sent no Date header: cannot judge lease expiry');
  snapshot.readDate = readDate;
  snapshot.complete = complete;
  return inQueueOrder(snapshot);
}

/** Whether the waiters read so far already fill every free permit (ahead of the caller's own row). */
function enoughAhead(snapshot: LockSnapshot, readDate: Micros, bound: BoundedRead): boolean {
  if (snapshot.waiters.length === 0) return false; // holders not all read yet
  const permits = snapshot.lock?.data.permits ?? bound.permitsHint;
  const live = snapshot.holders.filter((h) => !holderExpired(h, readDate)).length;
  const free = Math.max(0, permits - live);
  let ahead = 0;
  for (const w of snapshot.waiters) {
    if (w.rowKey === bound.through || bound.isMine?.(w)) return true;
    if (waiterLive(w, readDate, bound.defaultWaiterTtlSeconds)) ahead += 1;
  }
  return ahead >= free;
}

/**
 * How many live waiters are ahead of `key` (a keys-only read of that part of the queue: the exact
 * position a caller is told, which the bounded read does not give past the permits).
 */
export async function countWaitersBefore(
  client: TableClient,
  partitionKey: string,
  key: string,
  readDate: Micros,
  defaultWaiterTtlSeconds: number,
  stats?: LockReadStats,
  limit = Infinity,
): Promise<number> {
  const filter = odata`PartitionKey eq ${partitionKey} and RowKey ge ${waiterPrefix} and RowKey lt ${key}`;
  let count = 0;
  const pages = client
    .listEntities<Record<string, unknown>>({
      queryOptions: { filter, select: ['RowKey', 'Timestamp', 'waiterTtlSeconds'] },
    })
    .byPage({ maxPageSize: 1000 });
  for await (const page of pages) {
    if (stats) {
      stats.queries += 1;
      stats.rows += page.length;
    }
    for (const row of page) {
      const ttl = typeof row.waiterTtlSeconds === 'number' ? row.waiterTtlSeconds : undefined;
      const timestamp = parseStorageTime(row.timestamp ?? '');
      if (readDate < timestamp + (ttl ?? defaultWaiterTtlSeconds) * 1_000_000) count += 1;
    }
    if (count >= limit) break;
  }
  return count;
}

/**
 * Every lock's snapshot in one query of the whole table (lists and pages, not decisions: with no Date
 * header the local clock stands in). Partitions without a lock row are left out.
 */
export async function readAllLockSnapshots(client: TableClient): Promise<LockSnapshot[]> {
  let readDate: Micros | undefined;
  const byPartition = new Map<string, LockSnapshot>();
  const filter = odata`RowKey eq ${lockRowKey} or (RowKey ge ${holderPrefix} and RowKey lt ${waitersEnd})`;
  for await (const row of client.listEntities<Record<string, unknown>>({
    queryOptions: { filter },
    onResponse: (response) => {
      readDate ??= dateHeaderMicros(response.headers.get('date'));
    },
  })) {
    const pk = row.partitionKey ?? '';
    let snapshot = byPartition.get(pk);
    if (!snapshot) {
      snapshot = emptySnapshot(pk, 0);
      byPartition.set(pk, snapshot);
    }
    addRow(snapshot, row);
  }
  const now = readDate ?? Date.now() * 1000;
  return [...byPartition.values()]
    .filter((snapshot) => snapshot.lock !== undefined)
    .map((snapshot) => inQueueOrder({ ...snapshot, readDate: now }));
}

function emptySnapshot(partitionKey: string, readDate: Micros): LockSnapshot {
  return { partitionKey, readDate, lock: undefined, holders: [], waiters: [], complete: true };
}

/** Files one row under the lock row, the holders or the waiters (other rows are not read). */
function addRow(snapshot: LockSnapshot, row: Entity): void {
  const key = row.rowKey ?? '';
  if (key === lockRowKey) snapshot.lock = toLockRow(row);
  else if (key.startsWith(holderPrefix) && key < holdersEnd)
    snapshot.holders.push(toHolderRow(row));
  else if (key.startsWith(waiterPrefix)) snapshot.waiters.push(toWaiterRow(row));
}

function inQueueOrder(snapshot: LockSnapshot): LockSnapshot {
  snapshot.holders.sort((a, b) => a.data.fence - b.data.fence);
  snapshot.waiters.sort((a, b) => (a.rowKey < b.rowKey ? -1 : a.rowKey > b.rowKey ? 1 : 0));
  return snapshot;
}

export function holderExpiresAt(holder: Stored<HolderRow>): Micros {
  return leaseEnd(holder.timestamp, holder.data.ttlSeconds);
}

export function holderExpired(holder: Stored<HolderRow>, readDate: Micros): boolean {
  return leaseExpired(holder.timestamp, holder.data.ttlSeconds, readDate);
}

/** Whether a place is still kept: judged by the row's own waiter TTL (the reader's default for old rows). */
export function waiterLive(
  waiter: Stored<WaiterRow>,
  readDate: Micros,
  defaultWaiterTtlSeconds: number,
): boolean {
  const ttl = waiter.data.waiterTtlSeconds ?? defaultWaiterTtlSeconds;
  return readDate < waiter.timestamp + ttl * 1_000_000;
}
