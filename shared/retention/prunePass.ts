// One bounded prune pass: each store prunes its own rows (shared/storage/prune.ts), in the order the
// composition root lists them (shared/app/retention.ts), under one budget; retention only decides how
// far back each goes (policy.ts) and stops where the budget runs out.
import type { CoordinationConfig } from '../config/coordination/schema.js';
import { PruneBudget, type PruneResult } from '../storage/prune.js';
import type { TableStore } from '../storage/tableStore.js';
import type { RetentionPolicy } from './policy.js';

/** The policy periods, in days, a phase can be kept for. */
export type RetentionPeriod =
  'processedEventDays' | 'finishedRunDays' | 'jobSlotDays' | 'ensureClaimDays' | 'trainDays';

/** What a phase may need besides storage: the coordination config (what playbooks name). */
export interface PruneContext {
  /** Absent (a caller that has none): a phase that needs it to know what is still referenced deletes nothing. */
  config?: CoordinationConfig;
}

/** One store's pruning, as retention runs it: rows older than `keptFor` days go. */
export interface PrunePhase {
  /** Names the rows it deletes, for logs and results. */
  name: string;
  keptFor: RetentionPeriod;
  prune(
    tables: TableStore,
    before: Date,
    budget: PruneBudget,
    context: PruneContext,
  ): Promise<PruneResult>;
}

export interface PassResult {
  /** Rows deleted, by phase name. */
  deleted: Record<string, number>;
  total: number;
  examined: number;
  /** True when every phase finished: nothing past its retention is left. */
  complete: boolean;
}

/** A phase that the budget cut short ends the pass, so a later phase never runs ahead of an earlier one. */
export async function prunePass(
  tables: TableStore,
  now: Date,
  policy: RetentionPolicy,
  phases: readonly PrunePhase[],
  context: PruneContext = {},
): Promise<PassResult> {
  const budget = new PruneBudget(policy.maxDeletesPerPoll, policy.maxExaminedPerPoll);
  const result: PassResult = { deleted: {}, total: 0, examined: 0, complete: true };
  for (const phase of phases) {
    const before = new Date(now.getTime() - policy[phase.keptFor] * 86_400_000);
    const outcome = await phase.prune(tables, before, budget, context);
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
