// The locks' part of the status poll: free leases whose Octopus task has ended, prune old history daily.
import { claimOnce } from '../storage/conditional.js';
import { claimsTable } from '../storage/tables.js';
import type { StatusConsumer } from '../status/consumers.js';
import { pruneLockHistory, releaseLeasesOfEndedTasks } from './runtimeLocks.js';

/** The claims-table partition of the daily lock history prune (one row per UTC day). */
export const lockHistoryPrunePartition = 'lock-history-prune';

export const locksStatusConsumer: StatusConsumer = {
  name: 'locks',
  async run(runtime, _snapshot, log) {
    // One batched task lookup for every task-bound lease (none when no lease is bound).
    const freed = await releaseLeasesOfEndedTasks(runtime);
    if (freed > 0) log.info(`Locks: freed ${freed} lease(s) whose Octopus task had ended.`);
    // Once a day across instances: the first poll of a UTC day claims the prune.
    const day = runtime.clock.now().toISOString().slice(0, 10);
    const claim = await claimOnce(
      await runtime.tables.table(claimsTable),
      { partitionKey: lockHistoryPrunePartition, rowKey: day },
      { by: runtime.instanceId },
      { readHolder: false },
    );
    if (claim.mine) {
      const pruned = await pruneLockHistory(runtime);
      if (pruned > 0) log.info(`Locks: pruned ${pruned} history row(s) older than the retention.`);
    }
  },
};
