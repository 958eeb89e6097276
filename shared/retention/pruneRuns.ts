// Finished runs past their retention. A run that still has work (not finished, or its "run finished"
// email pending) is `active` and never deleted; finished runs are never written again.
import { odata } from '@azure/data-tables';
import { jobLockName } from '../locks/jobLock.js';
import { locksTableName } from '../locks/rows.js';
import { runLockJob } from '../runs/advance.js';
import { runsTable } from '../runs/store.js';
import { listPartition } from '../storage/conditional.js';
import { encodeKey } from '../storage/keys.js';
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
    // Each run advanced under its own lock (job/run/<id>); a finished run never takes it again.
    const locks = await tables.table(locksTableName);
    for (const run of found.rows) {
      const partition = encodeKey(jobLockName(runLockJob(run.rowKey ?? '')));
      const lockRows = await listPartition(locks, partition);
      await deleteRows(locks, lockRows.map(keyOf));
    }
    return { deleted, complete: found.complete };
  },
};
