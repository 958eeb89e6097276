// One bounded prune pass over every table that grows: phases in a fixed order under one budget.
import type { TableStore } from '../storage/tableStore.js';
import { PruneBudget } from './budget.js';
import { ensureClaimsPhase } from './pruneEnsureClaims.js';
import { processedEventsPhase } from './pruneEvents.js';
import { finishedRunsPhase } from './pruneRuns.js';
import { jobSlotsPhase, promotionSlotsPhase } from './pruneSlots.js';
import type { PrunePhase } from './phase.js';
import type { RetentionPolicy } from './policy.js';

/**
 * Ensure-deployed claims come before runs (a claim must never outlive its run). A phase that the
 * budget cut short ends the pass, so a later phase never runs ahead of an unfinished earlier one.
 */
export const prunePhases: readonly PrunePhase[] = [
  ensureClaimsPhase,
  finishedRunsPhase,
  processedEventsPhase,
  promotionSlotsPhase,
  jobSlotsPhase,
];

export interface PassResult {
  /** Rows deleted, by phase name. */
  deleted: Record<string, number>;
  total: number;
  examined: number;
  /** True when every phase finished: nothing past its retention is left. */
  complete: boolean;
}

export async function prunePass(
  tables: TableStore,
  now: Date,
  policy: RetentionPolicy,
  phases: readonly PrunePhase[] = prunePhases,
): Promise<PassResult> {
  const budget = new PruneBudget(policy.maxDeletesPerPoll, policy.maxExaminedPerPoll);
  const result: PassResult = { deleted: {}, total: 0, examined: 0, complete: true };
  for (const phase of phases) {
    const outcome = await phase.run({ tables, now, policy, budget });
    result.deleted[phase.name] = outcome.deleted;
    result.total += outcome.deleted;
    if (!outcome.complete) {
      result.complete = false;
      break;
    }
  }
  result.examined = budget.examined;
  return result;
}

/** "events 120, runs 3" (phases that deleted nothing left out). */
export function describeDeleted(deleted: Record<string, number>): string {
  const parts = Object.entries(deleted)
    .filter(([, n]) => n > 0)
    .map(([name, n]) => `${name} ${n}`);
  return parts.length > 0 ? parts.join(', ') : 'nothing';
}
