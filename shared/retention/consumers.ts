// Retention's part of the status poll: once a UTC day, delete rows past their retention, a bounded
// number per poll (see policy.ts for the periods and bounds). The stores prune; this orchestrates.
import type { StatusConsumer } from '../status/consumers.js';
import { runDailyPrune } from './dailyPrune.js';
import { describeDeleted, type PrunePhase } from './prunePass.js';

/** The retention consumer over the stores' pruning phases, in order. */
export function retentionStatusConsumer(phases: readonly PrunePhase[]): StatusConsumer {
  return {
    name: 'retention',
    async run(runtime, _snapshot, log) {
      const outcome = await runDailyPrune({
        tables: runtime.tables,
        clock: runtime.clock,
        instanceId: runtime.instanceId,
        phases,
        config: runtime.config,
      });
      if (outcome.kind !== 'pruned') return;
      const { pass } = outcome;
      if (pass.total > 0 || !pass.complete)
        log.info(
          `Retention: deleted ${pass.total} row(s) past their retention (${describeDeleted(pass.deleted)}).${pass.complete ? '' : ' More remain; the next status poll continues.'}`,
        );
    },
  };
}
