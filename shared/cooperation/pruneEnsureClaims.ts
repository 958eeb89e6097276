// Ensure-deployed claims (one row per project, environment and tenant) whose run has finished.
// They must go before their run does: ensure-deployed reads a claim whose run is missing as "the
// run is about to be stored" and would wait on it forever, so retention prunes them before the
// runs, with a much shorter period than the runs' one (shared/app/retention.ts).
import { odata } from '@azure/data-tables';
import { RunStore } from '../runs/store.js';
import { isTerminalRunStatus } from '../runs/types.js';
import { deleteIfMatch } from '../storage/conditional.js';
import { findCandidates, type PruneBudget, type PruneResult } from '../storage/prune.js';
import type { TableStore } from '../storage/tableStore.js';
import { ensureTable } from './ensureDeployed.js';

/** Delete the claims created before `before` whose run has finished (or was never stored). */
export async function pruneEnsureClaims(
  tables: TableStore,
  before: Date,
  budget: PruneBudget,
): Promise<PruneResult> {
  const client = await tables.table(ensureTable);
  const found = await findCandidates(
    client,
    { filter: odata`createdAt lt ${before.toISOString()}`, select: ['runId', 'createdAt'] },
    budget,
  );
  const runs = new RunStore(tables);
  let deleted = 0;
  for (const row of found.rows) {
    budget.deleted += 1;
    const runId = typeof row.runId === 'string' ? row.runId : '';
    budget.examined += 1;
    let run: Awaited<ReturnType<RunStore['get']>>;
    try {
      run = runId ? await runs.get(runId) : undefined;
    } catch {
      continue; // an unreadable run: keep its claim, a person may need both
    }
    // A claim older than the period whose run was never stored belongs to a caller that died
    // between claiming and starting: deleting it lets the next call start afresh.
    if (run && !isTerminalRunStatus(run.state.status)) continue;
    // ETag-checked: a claim replaced since it was read (a new run) is kept.
    const outcome = await deleteIfMatch(
      client,
      row.partitionKey ?? '',
      row.rowKey ?? '',
      row.etag ?? '*',
    );
    if (outcome.ok) deleted += 1;
  }
  return { deleted, complete: found.complete };
}
