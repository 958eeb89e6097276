// The grant history of a lock (kept for a configurable time) and the check that no two grants ever
// overlapped beyond the lock's permits. Times are storage Timestamps, so the check needs no local clock.
//
// History lives outside the lock's partition (its own table in the app; see LeaseLocksOptions), so
// the lock's reads never pass over it: per lock one partition of `g-<fence>` (a grant, written by
// the granter right after the grant with the grant's storage time) and `e-<fence>` (how it ended).
// The end is also in the lock's partition as a tombstone (`z-<fence>`, written with the holder row's
// deletion), which is what a late renew or release is told; history reads merge both, and the rows
// an older version kept in the lock's partition (`h-…`).
import { odata, type TableClient, type TableEntity } from '@azure/data-tables';
import { encodeKey } from '../storage/keys.js';
import type { EndRecord } from './acquireDecision.js';
import { formatMicros, parseStorageTime, type Micros } from './expiry.js';
import {
  endPrefix,
  fenceKey,
  holderPrefix,
  holdersEnd,
  legacyHistoryEndKey,
  legacyHistoryGrantKey,
  legacyHistoryPrefix,
  type EndReason,
  type HolderRow,
} from './rows.js';
import { holderExpiresAt, toHolderRow } from './snapshot.js';

export interface GrantRecord {
  fence: number;
  holder: string;
  permits: number;
  ttlSeconds: number;
  octopusTaskId?: string;
  /** Storage time of the grant. */
  grantedAt: Micros;
  /** Storage time it ended: the release, or the end of its last TTL; undefined while it may still be held. */
  endedAt: Micros | undefined;
  /** `held` while the holder row is there (endedAt is then its current expiry). */
  state: EndReason | 'held' | 'unknown';
  /** A forced release: who and why. */
  forcedBy?: string;
  reason?: string;
}

export interface Overlap {
  /** The grant that made too many holders. */
  fence: number;
  /** The grants that were held at that instant (including `fence`). */
  heldTogether: number[];
  permits: number;
  at: string;
}

export interface OverlapReport {
  grants: number;
  overlaps: Overlap[];
  /** Pairs where a later grant carried a smaller fence (must never happen). */
  fenceOrderViolations: { earlier: number; later: number }[];
  /**
   * Grants with no end record and no holder row (the end's history write was lost and the tombstone
   * pruned): when they ended is unknown. Each counts as held until the first later grant that
   * would otherwise exceed the permits, not forever, so one lost record does not turn every later
   * grant into an overlap. A grant that started while a holder with a known end still held is
   * reported as an overlap whatever its own end.
   */
  unended: number[];
  /**
   * Grants whose end record is earlier than their grant (storage clocks, not the locks): counted
   * as held at the instant of their grant. An end at the same microsecond is not listed (Azurite
   * stamps a write with the millisecond its request arrived; a release answered within it shares
   * its grant's time).
   */
  endedBeforeGranted: number[];
  /** Fences between the first and last grant in the history with no grant record (lost or pruned). */
  missingFences: number;
}

type Row = Record<string, unknown> & { rowKey?: string; timestamp?: string; partitionKey?: string };

/** Where a lock's history rows go: a table, and the partition of a lock in it. */
export interface HistoryPlace {
  client: TableClient;
  /** The history partition of a lock's partition key. */
  partition: (lockPartition: string) => string;
}

/** History kept in the locks table itself (no history table given): partitions no lock name can have. */
export const sameTablePartition = (pk: string): string => `%h:${pk}`;
export const ownTablePartition = (pk: string): string => pk;

export const grantKey = (fence: number): string => `g-${fenceKey(fence)}`;
export const endKey = (fence: number): string => `e-${fenceKey(fence)}`;

/** Record a grant, with its storage time (the Timestamp the grant batch gave the holder row). */
export async function recordGrant(
  place: HistoryPlace,
  pk: string,
  grant: {
    holder: string;
    fence: number;
    permits: number;
    ttlSeconds: number;
    octopusTaskId?: string;
  },
  grantedAt: Micros,
): Promise<void> {
  const entity: TableEntity<Record<string, unknown>> = {
    partitionKey: place.partition(pk),
    rowKey: grantKey(grant.fence),
    kind: 'grant',
    holder: grant.holder,
    fence: grant.fence,
    permits: grant.permits,
    ttlSeconds: grant.ttlSeconds,
    grantedAt: formatMicros(grantedAt),
  };
  if (grant.octopusTaskId) entity.octopusTaskId = grant.octopusTaskId;
  await place.client.upsertEntity(entity, 'Replace');
}

/** How one grant ended, for its end row in the history. */
interface HistoryEnd {
  fence: number;
  end: EndRecord;
  /** When it ended, where `end.endedAt` is unset. */
  at: Micros;
  /** A tombstone copied to the history: what it says of the grant goes into the end row too. */
  tombstone?: Row;
}

/** The history's end row of a grant (the one builder for recordEnds and keepEnds). */
function endRow(
  partitionKey: string,
  { fence, end, at, tombstone }: HistoryEnd,
): TableEntity<Record<string, unknown>> {
  const entity: TableEntity<Record<string, unknown>> = {
    partitionKey,
    rowKey: endKey(fence),
    kind: 'end',
    fence,
    reason: end.reason,
    endedAt: end.endedAt ?? formatMicros(at),
    ...(end.by !== undefined ? { by: end.by } : {}),
    ...(end.why !== undefined ? { why: end.why } : {}),
  };
  if (tombstone) {
    for (const field of ['holder', 'heldSince', 'octopusTaskId'])
      if (typeof tombstone[field] === 'string') entity[field] = tombstone[field];
    if (typeof tombstone.ttlSeconds === 'number') entity.ttlSeconds = tombstone.ttlSeconds;
  }
  return entity;
}

/** Upsert end rows of one lock, 100 to a batch. */
async function writeEnds(
  place: HistoryPlace,
  pk: string,
  ends: readonly HistoryEnd[],
  mode: 'Replace' | 'Merge',
): Promise<void> {
  for (let i = 0; i < ends.length; i += 100) {
    await place.client.submitTransaction(
      ends.slice(i, i + 100).map((end) => ['upsert', endRow(place.partition(pk), end), mode]),
    );
  }
}

/** Record how grants ended (one batch per lock; the tombstones already say it in the lock's partition). */
export function recordEnds(
  place: HistoryPlace,
  pk: string,
  ends: readonly { fence: number; end: EndRecord; at: Micros }[],
): Promise<void> {
  return writeEnds(place, pk, ends, 'Replace');
}

/** Every grant of one lock still in the history, oldest fence first. */
export async function readHistory(
  locks: TableClient,
  places: readonly HistoryPlace[],
  name: string,
): Promise<GrantRecord[]> {
  const pk = encodeKey(name);
  const grants = new Map<number, GrantRecord>();
  const ends = new Map<number, { reason: EndReason; at: Micros; by?: string; why?: string }>();
  /** Tombstones that name their holder: a grant record when the granter never wrote one. */
  const fallbackGrants = new Map<number, Row>();
  const held = new Map<number, Micros>();
  const addEnd = (row: Row, timestamp: Micros) => {
    const fence = Number(row.fence);
    const reason = String(row.reason) as EndReason;
    const at = typeof row.endedAt === 'string' ? parseStorageTime(row.endedAt) : timestamp;
    const end = {
      reason,
      at,
      ...(typeof row.by === 'string' ? { by: row.by } : {}),
      ...(typeof row.why === 'string' ? { why: row.why } : {}),
    };
    // A tombstone and an end row say the same; keep the earlier time (the tombstone's write).
    const known = ends.get(fence);
    if (!known || at < known.at) ends.set(fence, end);
  };
  const addGrant = (row: Row, grantedAt: Micros) => {
    const fence = Number(row.fence);
    grants.set(fence, {
      fence,
      holder: String(row.holder ?? ''),
      permits: Number(row.permits ?? 1),
      ttlSeconds: Number(row.ttlSeconds ?? 0),
      ...(typeof row.octopusTaskId === 'string' ? { octopusTaskId: row.octopusTaskId } : {}),
      grantedAt,
      endedAt: undefined,
      state: 'unknown',
    });
  };
  // The lock's partition: live holders, tombstones, and history an older version kept there.
  const inLock = odata`PartitionKey eq ${pk} and ((RowKey ge ${legacyHistoryPrefix} and RowKey lt ${'i'}) or (RowKey ge ${holderPrefix} and RowKey lt ${holdersEnd}) or RowKey ge ${endPrefix})`;
  for await (const row of locks.listEntities<Row>({ queryOptions: { filter: inLock } })) {
    const key = row.rowKey ?? '';
    const timestamp = parseStorageTime(row.timestamp ?? '');
    if (key.startsWith(holderPrefix)) {
      const holder = toHolderRow(row as Parameters<typeof toHolderRow>[0]);
      held.set(holder.data.fence, holderExpiresAt(holder));
      // A grant whose record its granter never wrote (it exited at once): the holder row's last
      // write is no earlier than the grant.
      fallbackGrants.set(holder.data.fence, {
        ...row,
        fence: holder.data.fence,
        heldSince: formatMicros(holder.timestamp),
      });
    } else if (key.startsWith(endPrefix) || row.kind === 'end') {
      addEnd(row, timestamp);
      if (typeof row.heldSince === 'string') fallbackGrants.set(Number(row.fence), row);
    } else if (row.kind === 'grant') {
      addGrant(row, timestamp);
    }
  }
  for (const place of places) {
    const hpk = place.partition(pk);
    for await (const row of place.client.listEntities<Row>({
      queryOptions: { filter: odata`PartitionKey eq ${hpk}` },
    })) {
      const timestamp = parseStorageTime(row.timestamp ?? '');
      if (row.kind === 'grant') {
        const at = typeof row.grantedAt === 'string' ? parseStorageTime(row.grantedAt) : timestamp;
        addGrant(row, at);
      } else if (row.kind === 'end') {
        addEnd(row, timestamp);
        // An end copied from a tombstone of a reaped or forced lease names its grant too.
        if (typeof row.heldSince === 'string' && !fallbackGrants.has(Number(row.fence)))
          fallbackGrants.set(Number(row.fence), row);
      }
    }
  }
  for (const [fence, row] of fallbackGrants) {
    if (grants.has(fence) || typeof row.heldSince !== 'string') continue;
    addGrant({ ...row, permits: row.permits ?? 1 }, parseStorageTime(row.heldSince));
  }
  for (const grant of grants.values()) {
    const end = ends.get(grant.fence);
    const expiresAt = held.get(grant.fence);
    if (end) {
      grant.endedAt = end.at;
      grant.state = end.reason;
      if (end.reason === 'forced') {
        if (end.by !== undefined) grant.forcedBy = end.by;
        if (end.why !== undefined) grant.reason = end.why;
      }
    } else if (expiresAt !== undefined) {
      grant.endedAt = expiresAt;
      grant.state = 'held';
    }
  }
  return [...grants.values()].sort((a, b) => a.fence - b.fence);
}

/**
 * Sweep the grants in time order and report every instant where more grants were held than the
 * permits of the newest one allowed. Intervals are [grantedAt, endedAt): an end and a start at the
 * same instant do not overlap. A grant that ended at (or, by the record, before) its own grant time
 * is held at that instant only: its end is never taken before its start, which would leave it held
 * forever. A grant with no known end (`unended`) is held until a later grant needs its permit.
 */
export function findOverlaps(grants: readonly GrantRecord[]): OverlapReport {
  type Event = { at: Micros; start: boolean; grant: GrantRecord };
  const events: Event[] = [];
  const unended: number[] = [];
  const endedBeforeGranted: number[] = [];
  /** Grants held for an instant only: taken out again right after their start is counted. */
  const instants = new Set<GrantRecord>();
  for (const grant of grants) {
    events.push({ at: grant.grantedAt, start: true, grant });
    if (grant.endedAt === undefined) unended.push(grant.fence);
    else if (grant.endedAt > grant.grantedAt)
      events.push({ at: grant.endedAt, start: false, grant });
    else {
      instants.add(grant);
      if (grant.endedAt < grant.grantedAt) endedBeforeGranted.push(grant.fence);
    }
  }
  // Ends before starts at the same instant; starts at the same instant in fence (grant) order.
  events.sort(
    (a, b) =>
      a.at - b.at || (a.start === b.start ? a.grant.fence - b.grant.fence : a.start ? 1 : -1),
  );
  const active = new Set<GrantRecord>();
  const overlaps: Overlap[] = [];
  for (const event of events) {
    const grant = event.grant;
    if (!event.start) {
      active.delete(grant);
      continue;
    }
    active.add(grant);
    if (active.size > grant.permits) {
      // Grants of unknown end, granted before this one, ended no later than it (oldest first): an
      // unknown is not evidence of a second holder.
      const unknown = [...active]
        .filter((g) => g.endedAt === undefined && g.fence < grant.fence)
        .sort((a, b) => a.fence - b.fence);
      for (const g of unknown) {
        if (active.size <= grant.permits) break;
        active.delete(g);
      }
    }
    if (active.size > grant.permits) {
      overlaps.push({
        fence: grant.fence,
        heldTogether: [...active].map((g) => g.fence).sort((a, b) => a - b),
        permits: grant.permits,
        at: formatMicros(event.at),
      });
    }
    if (instants.has(grant)) active.delete(grant);
  }
  const byTime = [...grants].sort((a, b) => a.grantedAt - b.grantedAt || a.fence - b.fence);
  const fenceOrderViolations: OverlapReport['fenceOrderViolations'] = [];
  for (let i = 1; i < byTime.length; i++) {
    const earlier = byTime[i - 1];
    const later = byTime[i];
    if (earlier && later && later.fence <= earlier.fence)
      fenceOrderViolations.push({ earlier: earlier.fence, later: later.fence });
  }
  const fences = new Set(grants.map((g) => g.fence));
  let lowest = Infinity;
  let highest = -Infinity;
  for (const fence of fences) {
    lowest = Math.min(lowest, fence);
    highest = Math.max(highest, fence);
  }
  const missingFences = fences.size === 0 ? 0 : highest - lowest + 1 - fences.size;
  return {
    grants: grants.length,
    overlaps,
    fenceOrderViolations,
    unended,
    endedBeforeGranted,
    missingFences,
  };
}

/** Delete `keys` of one partition, 100 to a batch (one by one when a batch finds a row gone). */
async function deleteKeys(
  client: TableClient,
  pk: string,
  keys: readonly string[],
): Promise<number> {
  let deleted = 0;
  for (let i = 0; i < keys.length; i += 100) {
    const batch = keys.slice(i, i + 100);
    try {
      await client.submitTransaction(
        batch.map((rowKey) => ['delete', { partitionKey: pk, rowKey }]),
      );
      deleted += batch.length;
    } catch {
      for (const rowKey of batch) {
        try {
          await client.deleteEntity(pk, rowKey);
          deleted += 1;
        } catch {
          // Already gone.
        }
      }
    }
  }
  return deleted;
}

/** What a tombstone says about an end (and, for a reaped or forced lease, its grant). */
const endFields = [
  'fence',
  'reason',
  'endedAt',
  'by',
  'why',
  'holder',
  'ttlSeconds',
  'heldSince',
  'octopusTaskId',
];

/**
 * For tombstones about to be pruned: write the history's end row of each whose end is within the
 * retention and has none; the grant and end rows of the others are past the retention: deleted.
 */
async function keepEnds(
  place: HistoryPlace,
  pk: string,
  rows: readonly Row[],
  retainedFrom: Micros,
  deletePast: (keys: string[]) => Promise<unknown>,
): Promise<void> {
  const hpk = place.partition(pk);
  const endOf = (row: Row): Micros =>
    typeof row.endedAt === 'string'
      ? parseStorageTime(row.endedAt)
      : parseStorageTime(row.timestamp ?? '');
  // The grant and end rows there are of these tombstones' fences (two keys-only range reads).
  const fences = rows.map((r) => Number(r.fence)).sort((a, b) => a - b);
  const lowest = fences[0] ?? 0;
  const highest = fences[fences.length - 1] ?? 0;
  const known = new Set<string>();
  for (const [from, to] of [
    [endKey(lowest), endKey(highest)],
    [grantKey(lowest), grantKey(highest)],
  ] as const) {
    for await (const row of place.client.listEntities<Row>({
      queryOptions: {
        filter: odata`PartitionKey eq ${hpk} and RowKey ge ${from} and RowKey le ${to}`,
        select: ['RowKey'],
      },
    }))
      known.add(String(row.rowKey ?? ''));
  }
  const past = rows
    .filter((r) => endOf(r) < retainedFrom)
    .flatMap((r) => [grantKey(Number(r.fence)), endKey(Number(r.fence))])
    .filter((key) => known.has(key));
  if (past.length > 0) await deletePast(past);
  const kept = rows.filter((r) => endOf(r) >= retainedFrom);
  const missing = kept.filter((r) => !known.has(endKey(Number(r.fence))));
  await writeEnds(
    place,
    pk,
    missing.map((row) => ({
      fence: Number(row.fence),
      end: {
        reason: String(row.reason) as EndReason,
        ...(typeof row.by === 'string' ? { by: row.by } : {}),
        ...(typeof row.why === 'string' ? { why: row.why } : {}),
      },
      at: endOf(row),
      tombstone: row,
    })),
    'Merge',
  );
}

/**
 * Delete history of grants that ended before `olderThan` (grants still held are kept), and the
 * tombstones in lock partitions older than `tombstonesBefore`. Returns rows deleted.
 */
export async function pruneHistory(
  locks: TableClient,
  place: HistoryPlace,
  olderThan: Date,
  tombstonesBefore: Date = olderThan,
): Promise<number> {
  let deleted = 0;
  // The history table (or partitions): end rows older than the cutoff, with their grants.
  const ends = new Map<string, number[]>();
  const filter = odata`kind eq ${'end'} and Timestamp lt ${olderThan} and RowKey ge ${'e-'} and RowKey lt ${'f'}`;
  for await (const row of place.client.listEntities<Row>({
    queryOptions: { filter, select: ['PartitionKey', 'RowKey', 'fence'] },
  })) {
    const list = ends.get(String(row.partitionKey ?? '')) ?? [];
    list.push(Number(row.fence));
    ends.set(String(row.partitionKey ?? ''), list);
  }
  for (const [pk, fences] of ends)
    deleted += await deleteKeys(
      place.client,
      pk,
      fences.flatMap((f) => [grantKey(f), endKey(f)]),
    );
  // Tombstones, and history rows an older version kept in the lock partitions.
  const old = new Map<string, string[]>();
  const add = (pk: string, key: string) => {
    const list = old.get(pk) ?? [];
    list.push(key);
    old.set(pk, list);
  };
  const tombstones = new Map<string, Row[]>();
  for await (const row of locks.listEntities<Row>({
    queryOptions: {
      filter: odata`RowKey ge ${endPrefix} and Timestamp lt ${tombstonesBefore}`,
      select: ['PartitionKey', 'RowKey', 'Timestamp', ...endFields],
    },
  })) {
    const pk = String(row.partitionKey ?? '');
    add(pk, String(row.rowKey ?? ''));
    const list = tombstones.get(pk) ?? [];
    list.push(row);
    tombstones.set(pk, list);
  }
  // A tombstone is the end's durable record (written with the holder row's deletion); the end row
  // in the history is written after the answer and may have been lost. Before a tombstone goes,
  // its end is copied to the history where missing, or (past the retention) its grant goes too.
  for (const [pk, rows] of tombstones)
    await keepEnds(place, pk, rows, olderThan.getTime() * 1000, (keys) =>
      deleteKeys(place.client, place.partition(pk), keys).then((n) => (deleted += n)),
    );
  for await (const row of locks.listEntities<Row>({
    queryOptions: {
      filter: odata`RowKey ge ${legacyHistoryPrefix} and RowKey lt ${'i'} and kind eq ${'end'} and Timestamp lt ${olderThan}`,
      select: ['PartitionKey', 'RowKey', 'fence'],
    },
  })) {
    const pk = String(row.partitionKey ?? '');
    add(pk, legacyHistoryGrantKey(Number(row.fence)));
    add(pk, legacyHistoryEndKey(Number(row.fence)));
  }
  for (const [pk, keys] of old) deleted += await deleteKeys(locks, pk, keys);
  return deleted;
}

export type { HolderRow };
