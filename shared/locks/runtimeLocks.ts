// The lock service of a runtime: its `locks` table, and Octopus for task-bound leases.
import { isFinishedTaskState } from '../octopus/enums.js';
import type { OctopusClient } from '../octopus/client.js';
import type { Runtime } from '../runtime/runtime.js';
import { LeaseLocks, type EndedTaskLookup, type LeaseLocksOptions } from './leaseLock.js';
import { lockHistoryTableName, locksTableName } from './rows.js';

const services = new WeakMap<Runtime, LeaseLocks>();

/** At most this many tasks outside the client's space are read one by one per lookup. */
const otherSpaceReadsPerLookup = 50;

/**
 * Ended tasks among `ids`: one batched call in the client's space (`/api/{spaceId}/tasks?ids=`), then
 * the ids it does not hold (a lease bound to a task in another space) read where they live, by the
 * system-level `GET /api/tasks/{id}`. Ids Octopus does not know count as not ended.
 */
export function octopusEndedTasks(octopus: OctopusClient): EndedTaskLookup {
  return async (ids) => {
    if (ids.length === 0) return new Set();
    const tasks = await octopus.tasks.getMany(ids);
    const found = new Set(tasks.map((t) => t.Id));
    const elsewhere = ids.filter((id) => !found.has(id)).slice(0, otherSpaceReadsPerLookup);
    for (const id of elsewhere) {
      const task = await octopus.tasks.getInAnySpace(id);
      if (task) tasks.push(task);
    }
    return new Set(tasks.filter((t) => isFinishedTaskState(t.State)).map((t) => t.Id));
  };
}

/** The tables of a runtime's locks: the locks and their history. */
export function lockTables(runtime: Runtime): Pick<LeaseLocksOptions, 'table' | 'historyTable'> {
  return {
    table: () => runtime.tables.table(locksTableName),
    historyTable: () => runtime.tables.table(lockHistoryTableName),
  };
}

/** One LeaseLocks per runtime (so in-process wake-ups reach every waiter of this process). */
export function locksFor(runtime: Runtime): LeaseLocks {
  let locks = services.get(runtime);
  if (!locks) {
    const octopus = runtime.octopus;
    locks = new LeaseLocks({
      ...lockTables(runtime),
      ...(octopus ? { endedTasks: octopusEndedTasks(octopus) } : {}),
    });
    services.set(runtime, locks);
  }
  return locks;
}

/**
 * Free the task-bound leases whose Octopus task has finished, failed or been cancelled. Given
 * `endedTaskIds` (for example from the status poll's own task reads) no Octopus call is made;
 * otherwise all bound tasks are looked up in one batched call. Returns how many leases were freed.
 */
export function releaseLeasesOfEndedTasks(
  runtime: Runtime,
  endedTaskIds?: Set<string>,
): Promise<number> {
  return locksFor(runtime).releaseEndedTaskLeases(endedTaskIds);
}

/** How long the end of a lease stays in the lock's partition (what a late renew or release is told). */
const tombstoneDays = 2;

/** How long the grant history of locks is kept by default. */
export const defaultLockHistoryDays = 14;

/** Delete lock history older than `retentionDays` (call daily, e.g. from the status poll). */
export function pruneLockHistory(
  runtime: Runtime,
  retentionDays = defaultLockHistoryDays,
): Promise<number> {
  const now = runtime.clock.now().getTime();
  const cutoff = new Date(now - retentionDays * 86_400_000);
  // Tombstones answer a late renew or release; leases last at most a day, so a day is enough.
  const tombstones = new Date(Math.max(cutoff.getTime(), now - tombstoneDays * 86_400_000));
  return locksFor(runtime).pruneHistory(cutoff, tombstones);
}
