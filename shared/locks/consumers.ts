// The locks' part of the status poll: free leases whose Octopus task has ended, prune old history daily.
import { createIfAbsent } from '../storage/conditional.js';
import { claimsTable } from '../storage/tables.js';
import type { StatusConsumer } from '../status/consumers.js';
import { pruneLockHistory, releaseLeasesOfEndedTasks } from './runtimeLocks.js';

export const locksStatusConsumer: StatusConsumer = {
  name: 'locks',
  async run(runtime, _snapshot, log) {
    // One batched task lookup for every task-bound lease (none when no lease is bound).
    const freed = await releaseLeasesOfEndedTasks(runtime);
    if (freed > 0) log.info(`Locks: freed ${freed} lease(s) whose Octopus task had ended.`);
    // Once a day across instances: the first poll of a UTC day claims the prune.
    const day = runtime.clock.now().toISOString().slice(0, 10);
    const claim = await createIfAbsent(await runtime.tables.table(claimsTable), {
      partitionKey: 'lock-history-prune',
      rowKey: day,
      by: runtime.instanceId,
    });
    if (claim.ok) {
      const pruned = await pruneLockHistory(runtime);
      if (pruned > 0) log.info(`Locks: pruned ${pruned} history row(s) older than the retention.`);
    }
  },
};
