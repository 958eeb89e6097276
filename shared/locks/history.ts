// The grant history of a lock (kept for a configurable time) and the check that no two grants ever
// overlapped beyond the lock's permits. Times are storage Timestamps, so the check needs no local clock.
import { odata, type TableClient } from '@azure/data-tables';
import { encodeKey } from '../storage/keys.js';
import { formatMicros, parseStorageTime, type Micros } from './expiry.js';
import {
  historyEndKey,
  historyGrantKey,
  historyPrefix,
  holderPrefix,
  type EndReason,
} from './rows.js';
import { holderExpiresAt, toHolderRow } from './snapshot.js';

export interface GrantRecord {
  fence: number;
  holder: string;
  permits: number;
  ttlSeconds: number;
  octopusTaskId?: string;
  /** Storage time of the grant (the Timestamp of its history row). */
  grantedAt: Micros;
  /** Storage time it ended: the release, or the end of its last TTL; undefined while it may still be held. */
  endedAt: Micros | undefined;
  /** `held` while the holder row is there (endedAt is then its current expiry). */
  state: EndReason | 'held' | 'unknown';
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
}

type Row = Record<string, unknown> & { rowKey?: string; timestamp?: string };

/** Every grant of one lock still in the history, oldest fence first. */
export async function readHistory(client: TableClient, name: string): Promise<GrantRecord[]> {
  const pk = encodeKey(name);
  const grants = new Map<number, GrantRecord>();
  const ends = new Map<number, { reason: EndReason; at: Micros }>();
  const held = new Map<number, Micros>();
  const filter = odata`PartitionKey eq ${pk} and RowKey ge ${historyPrefix} and RowKey lt ${'m'}`;
  for await (const row of client.listEntities<Row>({ queryOptions: { filter } })) {
    const key = row.rowKey ?? '';
    const timestamp = parseStorageTime(row.timestamp ?? '');
    if (key.startsWith(holderPrefix)) {
      const holder = toHolderRow(row as Parameters<typeof toHolderRow>[0]);
      held.set(holder.data.fence, holderExpiresAt(holder));
      continue;
    }
    const fence = Number(row.fence);
    if (row.kind === 'grant') {
      grants.set(fence, {
        fence,
        holder: String(row.holder ?? ''),
        permits: Number(row.permits ?? 1),
        ttlSeconds: Number(row.ttlSeconds ?? 0),
        ...(typeof row.octopusTaskId === 'string' ? { octopusTaskId: row.octopusTaskId } : {}),
        grantedAt: timestamp,
        endedAt: undefined,
        state: 'unknown',
      });
    } else if (row.kind === 'end') {
      const reason = String(row.reason) as EndReason;
      const at =
        reason === 'expired' && typeof row.endedAt === 'string'
          ? parseStorageTime(row.endedAt)
          : timestamp;
      ends.set(fence, { reason, at });
    }
  }
  for (const grant of grants.values()) {
    const end = ends.get(grant.fence);
    const expiresAt = held.get(grant.fence);
    if (end) {
      grant.endedAt = end.at;
      grant.state = end.reason;
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
 * same instant do not overlap. A grant with no known end counts as held forever (the strict reading).
 */
export function findOverlaps(grants: readonly GrantRecord[]): OverlapReport {
  type Event = { at: Micros; start: boolean; grant: GrantRecord };
  const events: Event[] = [];
  for (const grant of grants) {
    events.push({ at: grant.grantedAt, start: true, grant });
    if (grant.endedAt !== undefined) events.push({ at: grant.endedAt, start: false, grant });
  }
  events.sort((a, b) => a.at - b.at || (a.start === b.start ? 0 : a.start ? 1 : -1));
  const active = new Set<GrantRecord>();
  const overlaps: Overlap[] = [];
  for (const event of events) {
    if (!event.start) {
      active.delete(event.grant);
      continue;
    }
    active.add(event.grant);
    if (active.size > event.grant.permits) {
      overlaps.push({
        fence: event.grant.fence,
        heldTogether: [...active].map((g) => g.fence).sort((a, b) => a - b),
        permits: event.grant.permits,
        at: formatMicros(event.at),
      });
    }
  }
  const byTime = [...grants].sort((a, b) => a.grantedAt - b.grantedAt || a.fence - b.fence);
  const fenceOrderViolations: OverlapReport['fenceOrderViolations'] = [];
  for (let i = 1; i < byTime.length; i++) {
    const earlier = byTime[i - 1];
    const later = byTime[i];
    if (earlier && later && later.fence <= earlier.fence)
      fenceOrderViolations.push({ earlier: earlier.fence, later: later.fence });
  }
  return { grants: grants.length, overlaps, fenceOrderViolations };
}

/** Delete history of grants that ended before `olderThan` (grants still held are kept). Returns rows deleted. */
export async function pruneHistory(client: TableClient, olderThan: Date): Promise<number> {
  const filter = odata`RowKey ge ${historyPrefix} and RowKey lt ${'i'} and kind eq ${'end'} and Timestamp lt ${olderThan}`;
  const byPartition = new Map<string, number[]>();
  for await (const row of client.listEntities<Row>({
    // Keys are selected explicitly: the service returns only the properties named in $select.
    queryOptions: { filter, select: ['PartitionKey', 'RowKey', 'fence'] },
  })) {
    const pk = String(row.partitionKey ?? '');
    const list = byPartition.get(pk) ?? [];
    list.push(Number(row.fence));
    byPartition.set(pk, list);
  }
  let deleted = 0;
  for (const [pk, fences] of byPartition) {
    // Two rows per grant, at most 100 actions per batch.
    for (let i = 0; i < fences.length; i += 50) {
      const batch = fences.slice(i, i + 50);
      const keys = batch.flatMap((f) => [historyGrantKey(f), historyEndKey(f)]);
      // A batch fails as a whole if one row is already gone; then delete one by one.
      try {
        await client.submitTransaction(
          keys.map((rowKey) => ['delete', { partitionKey: pk, rowKey }]),
        );
        deleted += keys.length;
      } catch {
        for (const rowKey of keys) {
          try {
            await client.deleteEntity(pk, rowKey);
            deleted += 1;
          } catch {
            // Already gone.
          }
        }
      }
    }
  }
  return deleted;
}
