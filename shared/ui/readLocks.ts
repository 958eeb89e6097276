// Every lock with its holders, fences and waiters in queue order, in one query of the locks table.
// Built from the locks module's own row parsers and lockState(), so it judges expiry as acquire does.
import { odata, type TableClient } from '@azure/data-tables';
import { lockState } from '../locks/acquireDecision.js';
import { formatMicros } from '../locks/expiry.js';
import { holderPrefix, lockRowKey, waiterPrefix } from '../locks/rows.js';
import {
  dateHeaderMicros,
  holderExpired,
  holderExpiresAt,
  toHolderRow,
  toLockRow,
  toWaiterRow,
  type LockSnapshot,
} from '../locks/snapshot.js';
import type { LockPageView } from './model.js';

/** LeaseLocks' default waiter TTL (locksFor sets none): a waiter that has not asked again since is gone. */
const waiterTtlSeconds = 30;

/** Why the waiter at `index` (0-based, in queue order) waits, in words. */
export function whyWaits(index: number, free: number, permits: number, heldBy: string[]): string {
  if (index < free) return 'a permit is free: it is granted when it next asks';
  const held = `${heldBy.length} of ${permits} permit(s) held by ${heldBy.join(', ') || 'nobody'}`;
  const ahead = index - free;
  return ahead > 0 ? `${held}; ${ahead} waiter(s) ahead of it` : `${held}; it is next in line`;
}

/** Add Octopus links to the task-bound holders and waiters of `locks`. */
export function withLockTaskLinks(
  locks: LockPageView[],
  taskUrl: (taskId: string) => string | undefined,
): LockPageView[] {
  const url = (taskId: string | undefined) => (taskId ? taskUrl(taskId) : undefined);
  return locks.map((l) => ({
    ...l,
    holders: l.holders.map((h) => ({ ...h, taskUrl: url(h.octopusTaskId) })),
    waiters: l.waiters.map((w) => ({ ...w, taskUrl: url(w.octopusTaskId) })),
  }));
}

export async function readLocks(client: TableClient): Promise<LockPageView[]> {
  let readDate: number | undefined;
  const snapshots = new Map<string, LockSnapshot>();
  // Lock rows sort before holders (l-) and waiters (w-); grant history (h-) is left out by the filter.
  const filter = odata`RowKey eq ${lockRowKey} or RowKey ge ${holderPrefix}`;
  for await (const row of client.listEntities<Record<string, unknown>>({
    queryOptions: { filter },
    onResponse: (r) => {
      readDate ??= dateHeaderMicros(r.headers.get('date'));
    },
  })) {
    const pk = row.partitionKey ?? '';
    let snapshot = snapshots.get(pk);
    if (!snapshot) {
      snapshot = { partitionKey: pk, readDate: 0, lock: undefined, holders: [], waiters: [] };
      snapshots.set(pk, snapshot);
    }
    const key = row.rowKey ?? '';
    if (key === lockRowKey) snapshot.lock = toLockRow(row);
    else if (key.startsWith(holderPrefix)) snapshot.holders.push(toHolderRow(row));
    else if (key.startsWith(waiterPrefix)) snapshot.waiters.push(toWaiterRow(row));
  }
  const now = readDate ?? Date.now() * 1000;
  const views: LockPageView[] = [];
  for (const snapshot of snapshots.values()) {
    if (!snapshot.lock) continue;
    snapshot.readDate = now;
    snapshot.holders.sort((a, b) => a.data.fence - b.data.fence);
    snapshot.waiters.sort((a, b) => (a.rowKey < b.rowKey ? -1 : a.rowKey > b.rowKey ? 1 : 0));
    const state = lockState(snapshot, { waiterTtlSeconds, endedTasks: new Set() });
    const heldBy = state.live.map((h) => h.data.holder);
    views.push({
      name: snapshot.lock.data.name,
      permits: state.permits,
      lastFence: snapshot.lock.data.fence,
      holders: snapshot.holders.map((h) => ({
        holder: h.data.holder,
        fence: h.data.fence,
        grantedAt: h.data.grantedAt,
        expiresAt: formatMicros(holderExpiresAt(h)),
        expired: holderExpired(h, now),
        octopusTaskId: h.data.octopusTaskId,
        taskUrl: undefined,
      })),
      waiters: state.waiters.map((w, i) => ({
        position: i + 1,
        holder: w.data.holder,
        priority: w.data.priority,
        queuedAt: w.data.queuedAt,
        octopusTaskId: w.data.octopusTaskId,
        taskUrl: undefined,
        why: whyWaits(i, state.free, state.permits, heldBy),
      })),
    });
  }
  return views.sort((a, b) => a.name.localeCompare(b.name));
}
