// Which stores retention prunes, in which order, kept for which period. Each store owns its pruning
// (what "old" means for its rows and what must never go); retention (shared/retention) only runs
// these in order under one budget, once a day.
import { pruneEnsureClaims } from '../cooperation/pruneEnsureClaims.js';
import { pruneProcessedEvents } from '../events/store.js';
import { lockHistoryPrunePartition } from '../locks/consumers.js';
import { SlotStore } from '../promotion/slotStore.js';
import { REPORT_PARTITION } from '../report/dailyReportJob.js';
import { retentionPrunePartition } from '../retention/dailyPrune.js';
import type { PruneContext, PrunePhase } from '../retention/prunePass.js';
import { RunStore } from '../runs/store.js';
import { pruneDayClaims, type PruneBudget, type PruneResult } from '../storage/prune.js';
import type { TableStore } from '../storage/tableStore.js';
import { trainIdsIn } from '../trains/model.js';
import { TrainStore } from '../trains/store.js';

/** Claims-table partitions keyed by day: the daily report's days and the daily prunes' claims. */
const dayClaimPartitions = [REPORT_PARTITION, lockHistoryPrunePartition, retentionPrunePartition];

/**
 * Trains past their retention that nothing names (TrainStore.prune keeps the newest verified per set ×
 * environment × tenant and those live somewhere): here, what only the composition root can see is
 * added, the trains named by runs that still have work (deploys taken from a train, approval rounds)
 * and by the config's playbooks (`"release": { "train": "<id>" }`). Without the config, nothing goes.
 */
async function pruneTrains(
  tables: TableStore,
  before: Date,
  budget: PruneBudget,
  context: PruneContext,
): Promise<PruneResult> {
  const { config } = context;
  if (!config) return { deleted: 0, complete: true };
  return new TrainStore(tables).prune(before, budget, async () => {
    const named = trainIdsIn(config);
    for (const state of await new RunStore(tables).activeStates()) {
      budget.examined += 1;
      trainIdsIn(state, named);
    }
    return named;
  });
}

/**
 * Ensure-deployed claims come before runs (a claim must never outlive its run). Slot rows are kept
 * far longer than any slot a scheduler still looks at (retention/policy.ts, slotLookbackDays).
 */
export const retentionPhases: readonly PrunePhase[] = [
  { name: 'ensureClaims', keptFor: 'ensureClaimDays', prune: pruneEnsureClaims },
  {
    name: 'runs',
    keptFor: 'finishedRunDays',
    prune: (tables, before, budget) => new RunStore(tables).prune(before, budget),
  },
  { name: 'events', keptFor: 'processedEventDays', prune: pruneProcessedEvents },
  {
    name: 'promotionSlots',
    keptFor: 'jobSlotDays',
    prune: (tables, before, budget) => new SlotStore(tables).prune(before, budget),
  },
  {
    name: 'jobSlots',
    keptFor: 'jobSlotDays',
    async prune(tables, before, budget) {
      let deleted = 0;
      for (const partition of dayClaimPartitions) {
        const result = await pruneDayClaims(tables, partition, before, budget);
        deleted += result.deleted;
        if (!result.complete) return { deleted, complete: false };
      }
      return { deleted, complete: true };
    },
  },
  { name: 'trains', keptFor: 'trainDays', prune: pruneTrains },
];
