// Finished runs past their retention. A run that still has work (not finished, or its "run finished"
// email pending) is `active` and never deleted; finished runs are never written again.
import { odata } from '@azure/data-tables';
import { runsTable } from '../runs/store.js';
import { isTerminalRunStatus, type RunStatus } from '../runs/types.js';
import { findCandidates } from './budget.js';
import { deleteRows, keyOf } from './deleteRows.js';
import type { PrunePhase } from './phase.js';
import { cutoffIso } from './policy.js';

/** The partition shared/runs/store.ts keeps runs in. */
const runPartition = 'run';

export const finishedRunsPhase: PrunePhase = {
  name: 'runs',
  async run({ tables, now, policy, budget }) {
    const client = await tables.table(runsTable);
    const before = cutoffIso(now, policy.finishedRunDays);
    const found = await findCandidates(
      client,
      {
        filter: odata`PartitionKey eq ${runPartition} and active eq ${false} and finishedAt lt ${before}`,
        select: ['status', 'active', 'finishedAt'],
      },
      budget,
      (row) => row.active !== false || !isTerminalRunStatus(String(row.status) as RunStatus),
    );
    const deleted = await deleteRows(client, found.rows.map(keyOf));
    budget.deleted += found.rows.length;
    return { deleted, complete: found.complete };
  },
};
