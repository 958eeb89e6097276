// Every lock with its holders, fences and waiters in queue order, in one query of the locks table,
// read and judged by the locks module itself (so expiry and the queue look as they do to acquire).
import type { TableClient } from '@azure/data-tables';
import { lockState } from '../locks/acquireDecision.js';
import { formatMicros } from '../locks/expiry.js';
import { defaultWaiterTtlSeconds } from '../locks/leaseLock.js';
import { whyWaiting } from '../locks/lockViews.js';
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

export async function readLocks(client: TableClient): Promise<LockPageView[]> {
  const views: LockPageView[] = [];
  for (const snapshot of await readAllLockSnapshots(client)) {
    if (!snapshot.lock) continue;
    const state = lockState(snapshot, {
      waiterTtlSeconds: defaultWaiterTtlSeconds,
      endedTasks: new Set(),
    });
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
