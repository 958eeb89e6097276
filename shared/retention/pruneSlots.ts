// Job slot rows past their retention: daily report days and the prunes' daily claims (`jobs`), and
// promotion slots (`promotions`). A slot row is what stops a second run of its slot, so only rows
// far older than any slot a scheduler still looks at are deleted (see `slotLookbackDays`).
import { odata } from '@azure/data-tables';
import { promotionsTable } from '../promotion/slotStore.js';
import { JOBS_TABLE, REPORT_PARTITION } from '../report/dailyReportJob.js';
import { findCandidates } from './budget.js';
import { deleteRows, keyOf } from './deleteRows.js';
import type { PhaseResult, PrunePhase } from './phase.js';
import { cutoffIso } from './policy.js';

/** The lock history prune's daily claims (shared/locks/consumers.ts). */
const lockHistoryPrunePartition = 'lock-history-prune';
/** This module's daily claims (see dailyPrune.ts). */
export const retentionPrunePartition = 'retention-prune';
/** Partitions of `jobs` whose row key is a date (YYYY-MM-DD), one row per day. */
const datedJobPartitions = [REPORT_PARTITION, lockHistoryPrunePartition, retentionPrunePartition];
/** The promotion scheduler's per-promotion watermarks (never deleted: they are not slots). */
const promotionWatermarkPartition = 'watermark';

export const jobSlotsPhase: PrunePhase = {
  name: 'jobSlots',
  async run({ tables, now, policy, budget }) {
    const client = await tables.table(JOBS_TABLE);
    const beforeDay = cutoffIso(now, policy.jobSlotDays).slice(0, 10);
    const result: PhaseResult = { deleted: 0, complete: true };
    for (const partition of datedJobPartitions) {
      const found = await findCandidates(
        client,
        { filter: odata`PartitionKey eq ${partition} and RowKey lt ${beforeDay}`, select: [] },
        budget,
      );
      result.deleted += await deleteRows(client, found.rows.map(keyOf));
      budget.deleted += found.rows.length;
      if (!found.complete) return { ...result, complete: false };
    }
    return result;
  },
};

export const promotionSlotsPhase: PrunePhase = {
  name: 'promotionSlots',
  async run({ tables, now, policy, budget }) {
    const client = await tables.table(promotionsTable);
    // claimedAt is when the slot row was written, always after the slot's own time; manual slots too.
    const before = cutoffIso(now, policy.jobSlotDays);
    const found = await findCandidates(
      client,
      {
        filter: odata`PartitionKey ne ${promotionWatermarkPartition} and claimedAt lt ${before}`,
        select: ['claimedAt'],
      },
      budget,
    );
    const deleted = await deleteRows(client, found.rows.map(keyOf));
    budget.deleted += found.rows.length;
    return { deleted, complete: found.complete };
  },
};
