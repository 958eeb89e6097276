// Which stores retention prunes, in which order, kept for which period. Each store owns its pruning
// (what "old" means for its rows and what must never go); retention (shared/retention) only runs
// these in order under one budget, once a day.
import { pruneEnsureClaims } from '../cooperation/pruneEnsureClaims.js';
import { pruneProcessedEvents } from '../events/store.js';
import { lockHistoryPrunePartition } from '../locks/consumers.js';
import { SlotStore } from '../promotion/slotStore.js';
import { REPORT_PARTITION } from '../report/dailyReportJob.js';
import { retentionPrunePartition } from '../retention/dailyPrune.js';
import type { PrunePhase } from '../retention/prunePass.js';
import { RunStore } from '../runs/store.js';
import { pruneDayClaims } from '../storage/prune.js';

/** Claims-table partitions keyed by day: the daily report's days and the daily prunes' claims. */
const dayClaimPartitions = [REPORT_PARTITION, lockHistoryPrunePartition, retentionPrunePartition];

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
];
