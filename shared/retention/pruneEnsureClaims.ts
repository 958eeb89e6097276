// Ensure-deployed claims (one row per project, environment and tenant) whose run has finished.
// They must go before their run does: ensure-deployed reads a claim whose run is missing as "the
// run is about to be stored" and would wait on it forever, so this phase runs before the runs
// phase, and its period is much shorter than the runs' one.
import { odata } from '@azure/data-tables';
import { ensureTable } from '../cooperation/ensureDeployed.js';
import { RunStore } from '../runs/store.js';
import { isTerminalRunStatus } from '../runs/types.js';
import { deleteIfMatch } from '../storage/conditional.js';
import { findCandidates } from './budget.js';
import type { PrunePhase } from './phase.js';
import { cutoffIso } from './policy.js';

export const ensureClaimsPhase: PrunePhase = {
  name: 'ensureClaims',
  async run({ tables, now, policy, budget }) {
    const client = await tables.table(ensureTable);
    const before = cutoffIso(now, policy.ensureClaimDays);
    const found = await findCandidates(
      client,
      { filter: odata`createdAt lt ${before}`, select: ['runId', 'createdAt'] },
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
  },
};
