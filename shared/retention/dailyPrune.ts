// The daily prune: the first status poll of a UTC day claims it (a create-if-absent row in `jobs`,
// as the lock history prune does), and each poll does one bounded pass until nothing is left. A
// pass that ran out of budget leaves the day's row "running", and the next poll (any instance)
// continues; once a pass finishes, the row says "done" and later polls that day do nothing.
import type { CoordinationConfig } from '../config/coordination/schema.js';
import { claimOnce, updateIfMatch } from '../storage/conditional.js';
import type { Clock } from '../clock.js';
import type { TableStore } from '../storage/tableStore.js';
import { claimsTable } from '../storage/tables.js';
import { retentionPolicy, type RetentionPolicy } from './policy.js';
import { prunePass, type PassResult, type PrunePhase } from './prunePass.js';

/** This module's daily claims in the claims table (one row per UTC day). */
export const retentionPrunePartition = 'retention-prune';

export interface DailyPruneDeps {
  tables: TableStore;
  clock: Clock;
  /** Who claims the day (instance id). */
  instanceId: string;
  policy?: RetentionPolicy;
  /** The stores' pruning, in order (shared/app/retention.ts). */
  phases: readonly PrunePhase[];
  /** The coordination config, for phases that keep what it names (without it they delete nothing). */
  config?: CoordinationConfig;
}

export type DailyPruneOutcome =
  /** Today's prune has finished already (here or on another instance). */
  | { kind: 'doneToday' }
  /** Another instance is in a pass right now. */
  | { kind: 'busy'; by: string }
  | { kind: 'pruned'; pass: PassResult };

type ClaimState = 'running' | 'done';

interface ClaimRow {
  state: ClaimState;
  by: string;
  /** Until when the pass in progress holds the day; after it another poll may continue. */
  leaseUntil: string;
  passes: number;
  deleted: number;
  updatedAt: string;
}

export async function runDailyPrune(deps: DailyPruneDeps): Promise<DailyPruneOutcome> {
  const policy = deps.policy ?? retentionPolicy();
  const table = await deps.tables.table(claimsTable);
  const now = deps.clock.now();
  const key = { partitionKey: retentionPrunePartition, rowKey: now.toISOString().slice(0, 10) };
  const lease = new Date(now.getTime() + policy.passLeaseMinutes * 60_000).toISOString();

  let etag: string;
  let before: Pick<ClaimRow, 'passes' | 'deleted'> = { passes: 0, deleted: 0 };
  const claim = await claimOnce<ClaimRow>(table, key, {
    state: 'running',
    by: deps.instanceId,
    leaseUntil: lease,
    passes: 1,
    deleted: 0,
    updatedAt: now.toISOString(),
  });
  if (claim.mine) {
    etag = claim.etag;
  } else {
    const row = claim.holder;
    if (!row) return { kind: 'busy', by: 'another instance' };
    if (row.state === 'done') return { kind: 'doneToday' };
    if (Date.parse(row.leaseUntil) > now.getTime()) return { kind: 'busy', by: row.by };
    // The last pass ran out of budget (or its instance stopped): continue, ETag-checked.
    before = { passes: row.passes, deleted: row.deleted };
    const taken = await updateIfMatch<Partial<ClaimRow>>(
      table,
      {
        ...key,
        by: deps.instanceId,
        leaseUntil: lease,
        passes: row.passes + 1,
        updatedAt: now.toISOString(),
      },
      row.etag,
      'Merge',
    );
    if (!taken.ok) return { kind: 'busy', by: 'another instance' };
    etag = taken.etag;
  }

  // A pass that throws leaves the row "running" under its lease: a later poll retries after it.
  const pass = await prunePass(deps.tables, now, policy, deps.phases, {
    ...(deps.config ? { config: deps.config } : {}),
  });
  const finished = deps.clock.now().toISOString();
  await updateIfMatch<Partial<ClaimRow>>(
    table,
    {
      ...key,
      state: pass.complete ? 'done' : 'running',
      leaseUntil: finished,
      passes: before.passes + 1,
      deleted: before.deleted + pass.total,
      updatedAt: finished,
    },
    etag,
    'Merge',
  );
  return { kind: 'pruned', pass };
}
