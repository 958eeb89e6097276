// Every lock with its holders, fences and waiters in queue order, in one query of the locks table,
// read and judged by the locks module itself (so expiry and the queue look as they do to acquire).
import { odata, type TableClient } from '@azure/data-tables';
import { lockState } from '../locks/acquireDecision.js';
import { formatMicros } from '../locks/expiry.js';
import { defaultWaiterTtlSeconds } from '../locks/leaseLock.js';
import { findDeadlocks, whyWaiting } from '../locks/lockViews.js';
import { endPrefix } from '../locks/rows.js';
import { holderExpired, holderExpiresAt, readAllLockSnapshots } from '../locks/snapshot.js';
import type { LockPageView } from './model.js';

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

/** Force-released leases still remembered (their tombstones), by lock partition. */
async function readForced(
  client: TableClient,
): Promise<Map<string, NonNullable<LockPageView['forced']>>> {
  const byLock = new Map<string, NonNullable<LockPageView['forced']>>();
  const filter = odata`RowKey ge ${endPrefix} and reason eq ${'forced'}`;
  for await (const row of client.listEntities<Record<string, unknown>>({
    queryOptions: { filter },
  })) {
    const list = byLock.get(row.partitionKey ?? '') ?? [];
    list.push({
      fence: Number(row.fence ?? 0),
      holder: String(row.holder ?? ''),
      by: String(row.by ?? ''),
      reason: String(row.why ?? ''),
      at: String(row.timestamp ?? ''),
    });
    byLock.set(row.partitionKey ?? '', list);
  }
  return byLock;
}

export async function readLocks(client: TableClient): Promise<LockPageView[]> {
  const views: LockPageView[] = [];
  const snapshots = await readAllLockSnapshots(client);
  const forced = await readForced(client);
  const deadlocks = findDeadlocks(snapshots, defaultWaiterTtlSeconds);
  for (const snapshot of snapshots) {
    if (!snapshot.lock) continue;
    const state = lockState(snapshot, {
      waiterTtlSeconds: defaultWaiterTtlSeconds,
      endedTasks: new Set(),
    });
    const heldBy = state.live.map((h) => h.data.holder);
    const name = snapshot.lock.data.name;
    const mine = deadlocks.filter((d) => d.waits.some((w) => w.waitsFor === name));
    views.push({
      ...(forced.has(snapshot.partitionKey)
        ? { forced: (forced.get(snapshot.partitionKey) ?? []).sort((a, b) => b.fence - a.fence) }
        : {}),
      ...(mine.length > 0 ? { deadlocks: mine.map((d) => d.message) } : {}),
      name: snapshot.lock.data.name,
      permits: state.permits,
      lastFence: snapshot.lock.data.fence,
      holders: snapshot.holders.map((h) => ({
        holder: h.data.holder,
        fence: h.data.fence,
        grantedAt: h.data.grantedAt,
        expiresAt: formatMicros(holderExpiresAt(h)),
        expired: holderExpired(h, snapshot.readDate),
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
        why: whyWaiting(i, state.free, state.permits, heldBy),
      })),
    });
  }
  return views.sort((a, b) => a.name.localeCompare(b.name));
}
