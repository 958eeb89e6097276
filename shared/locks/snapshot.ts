// One read of a lock's partition (lock row, holders, waiters) with the storage time of that read.
import { odata, type TableClient, type TableEntityResult } from '@azure/data-tables';
import { leaseEnd, leaseExpired, parseStorageTime, type Micros } from './expiry.js';
import {
  holderPrefix,
  lockRowKey,
  waiterPrefix,
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
  /** In queue order (row key order). */
  waiters: Stored<WaiterRow>[];
}

type Entity = TableEntityResult<Record<string, unknown>>;

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
  return stored(e, {
    holder: str(e, 'holder'),
    requestKey: str(e, 'requestKey'),
    ...keyedBy(e),
    ticket: num(e, 'ticket'),
    priority: num(e, 'priority'),
    queuedAt: str(e, 'queuedAt'),
    ...(octopusTaskId ? { octopusTaskId } : {}),
  });
}

/** Parse an HTTP Date header to µs, or undefined. */
export function dateHeaderMicros(value: string | undefined | null): Micros | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms * 1000;
}

/**
 * Read the lock row, holders and waiters of one lock. The lock row sorts first, so a grant that
 * happened after it was read always changed its etag and makes our conditional write fail: a later
 * page can only show fewer or fresher holders, never hide one that a successful write would miss.
 */
export async function readLockSnapshot(
  client: TableClient,
  partitionKey: string,
): Promise<LockSnapshot> {
  let readDate: Micros | undefined;
  const rows: Entity[] = [];
  const filter = odata`PartitionKey eq ${partitionKey} and (RowKey eq ${lockRowKey} or RowKey ge ${holderPrefix})`;
  const iterator = client.listEntities<Record<string, unknown>>({
    queryOptions: { filter },
    onResponse: (response) => {
      readDate ??= dateHeaderMicros(response.headers.get('date'));
    },
  });
  for await (const row of iterator) rows.push(row);
  if (readDate === undefined)
    throw new Error('Table Storage sent no Date header: cannot judge lease expiry');
  const snapshot = emptySnapshot(partitionKey, readDate);
  for (const row of rows) addRow(snapshot, row);
  return inQueueOrder(snapshot);
}

/**
 * Every lock's snapshot in one query of the whole table (lists and pages, not decisions: with no Date
 * header the local clock stands in). Partitions without a lock row are left out.
 */
export async function readAllLockSnapshots(client: TableClient): Promise<LockSnapshot[]> {
  let readDate: Micros | undefined;
  const byPartition = new Map<string, LockSnapshot>();
  const filter = odata`RowKey eq ${lockRowKey} or RowKey ge ${holderPrefix}`;
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
  return { partitionKey, readDate, lock: undefined, holders: [], waiters: [] };
}

/** Files one row under the lock row, the holders or the waiters (history rows are not read). */
function addRow(snapshot: LockSnapshot, row: Entity): void {
  const key = row.rowKey ?? '';
  if (key === lockRowKey) snapshot.lock = toLockRow(row);
  else if (key.startsWith(holderPrefix)) snapshot.holders.push(toHolderRow(row));
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

export function waiterLive(
  waiter: Stored<WaiterRow>,
  readDate: Micros,
  waiterTtlSeconds: number,
): boolean {
  return readDate < waiter.timestamp + waiterTtlSeconds * 1_000_000;
}
