// What every prune phase gets and gives back.
import type { TableStore } from '../storage/tableStore.js';
import type { PruneBudget } from './budget.js';
import type { RetentionPolicy } from './policy.js';

export interface PruneContext {
  tables: TableStore;
  now: Date;
  policy: RetentionPolicy;
  budget: PruneBudget;
}

export interface PhaseResult {
  deleted: number;
  /** False when the budget ran out before the phase had looked at everything it could delete. */
  complete: boolean;
}

export interface PrunePhase {
  /** Names the rows it deletes, for logs and results. */
  name: string;
  run(context: PruneContext): Promise<PhaseResult>;
}
