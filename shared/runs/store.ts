// Runs in Table Storage: one row per run, its state as JSON split over several properties, every write ETag-checked.
import type { TableClient } from '@azure/data-tables';
import {
  createIfAbsent,
  getOrUndefined,
  listPartition,
  updateIfMatch,
} from '../storage/conditional.js';
import { fromJsonParts, jsonParts } from '../storage/jsonParts.js';
import { jobLockName } from '../locks/jobLock.js';
import { locksTableName } from '../locks/rows.js';
import { encodeKey } from '../storage/keys.js';
import {
  deleteRows,
  findCandidates,
  keyOf,
  type PruneBudget,
  type PruneResult,
} from '../storage/prune.js';
import type { TableStore } from '../storage/tableStore.js';
import { watchedTaskIds } from './decide.js';
import { isTerminalRunStatus, runHasWork, type RunState, type RunStatus } from './types.js';

export const runsTable = 'runs';
const partition = 'run';
/** 14 parts of 32K characters stay under the 1 MiB entity limit (2 bytes per character). */
const maxParts = 14;

interface RunRow {
  status: RunStatus;
  kind: string;
  name: string;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  /** Comma-separated Octopus task ids the run waits on (for routing webhook events without reading state). */
  watchedTasks: string;
  /** True while the run still has work, including its "finished" email. */
  active: boolean;
  /** The run state's JSON over `state`, `state1`, … (see storage/jsonParts.ts). */
  [part: string]: unknown;
}

export interface RunSummary {
  id: string;
  status: RunStatus;
  kind: string;
  name: string;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  watchedTasks: string[];
  active: boolean;
}

export type StoredRun = { state: RunState; etag: string };

function toRow(state: RunState): RunRow & { partitionKey: string; rowKey: string } {
  const row: RunRow & { partitionKey: string; rowKey: string } = {
    partitionKey: partition,
    rowKey: state.id,
    status: state.status,
    kind: state.plan.kind,
    name: state.plan.name,
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
    watchedTasks: watchedTaskIds(state).join(','),
    active: runHasWork(state),
    ...jsonParts(runsTable, 'state', state, maxParts),
  };
  if (state.finishedAt) row.finishedAt = state.finishedAt;
  return row;
}

function fromRow(row: Record<string, unknown>): RunState {
  return fromJsonParts<RunState>(row, 'state');
}

function summaryOf(row: Record<string, unknown>): RunSummary {
  const text = (k: string) => (typeof row[k] === 'string' ? (row[k] as string) : '');
  return {
    id: text('rowKey'),
    status: text('status') as RunStatus,
    kind: text('kind'),
    name: text('name'),
    createdAt: text('createdAt'),
    updatedAt: text('updatedAt'),
    finishedAt: text('finishedAt') || undefined,
    watchedTasks: text('watchedTasks')
      .split(',')
      .filter((t) => t !== ''),
    active: row.active === true,
  };
}

/** The job name of a run's lock (the lock itself is `job/run/<id>`). */
export const runLockJob = (runId: string): string => `run/${runId}`;

export class RunStore {
  constructor(private readonly tables: TableStore) {}

  private table(): Promise<TableClient> {
    return this.tables.table(runsTable);
  }

  /** Store a new run; false when a run with that id exists already (a repeated trigger). */
  async create(state: RunState): Promise<boolean> {
    const outcome = await createIfAbsent(await this.table(), toRow(state));
    return outcome.ok;
  }

  async get(id: string): Promise<StoredRun | undefined> {
    const row = await getOrUndefined<Record<string, unknown>>(await this.table(), partition, id);
    if (!row) return undefined;
    return { state: fromRow(row), etag: row.etag ?? '*' };
  }

  /** The states of the runs that still have work (`active`): one query of whole rows. */
  async activeStates(): Promise<RunState[]> {
    const { odata } = await import('@azure/data-tables');
    const filter = odata`PartitionKey eq ${partition}` + ' and active eq true';
    const out: RunState[] = [];
    for await (const row of (await this.table()).listEntities<Record<string, unknown>>({
      queryOptions: { filter },
    }))
      out.push(fromRow(row));
    return out;
  }

  /**
   * Delete runs that finished before `before` and have no work left (`active` false: nothing to
   * advance, no "run finished" email pending), with their run lock's rows; finished runs are never
   * written again, so nothing can need them. Active runs are never deleted, whatever their age.
   */
  async prune(before: Date, budget: PruneBudget): Promise<PruneResult> {
    const { odata } = await import('@azure/data-tables');
    const client = await this.table();
    const found = await findCandidates(
      client,
      {
        filter: odata`PartitionKey eq ${partition} and active eq ${false} and finishedAt lt ${before.toISOString()}`,
        select: ['status', 'active', 'finishedAt'],
      },
      budget,
      (row) => row.active !== false || !isTerminalRunStatus(String(row.status) as RunStatus),
    );
    const deleted = await deleteRows(client, found.rows.map(keyOf));
    budget.deleted += found.rows.length;
    // Each run advanced under its own lock (job/run/<id>); a finished run never takes it again.
    const locks = await this.tables.table(locksTableName);
    for (const run of found.rows) {
      const lockPartition = encodeKey(jobLockName(runLockJob(run.rowKey ?? '')));
      const lockRows = await listPartition(locks, lockPartition);
      await deleteRows(locks, lockRows.map(keyOf));
    }
    return { deleted, complete: found.complete };
  }

  /** Replace the run if nobody wrote it since `etag` was read; undefined on a conflict. */
  async replace(state: RunState, etag: string): Promise<string | undefined> {
    const outcome = await updateIfMatch(await this.table(), toRow(state), etag, 'Replace');
    return outcome.ok ? outcome.etag : undefined;
  }

  /**
   * Summaries (no state), newest first; `active` keeps only runs that still have work;
   * `activeOrFinishedSince` (an ISO time) keeps those and the runs that finished at or after it.
   */
  async list(
    options: {
      status?: RunStatus;
      active?: boolean;
      activeOrFinishedSince?: string;
      limit?: number;
    } = {},
  ): Promise<RunSummary[]> {
    const { odata } = await import('@azure/data-tables');
    let filter = odata`PartitionKey eq ${partition}`;
    if (options.status) filter += ` and ${odata`status eq ${options.status}`}`;
    if (options.active) filter += ' and active eq true';
    if (options.activeOrFinishedSince)
      filter += ` and (active eq true or ${odata`finishedAt ge ${options.activeOrFinishedSince}`})`;
    const client = await this.table();
    const out: RunSummary[] = [];
    for await (const row of client.listEntities<Record<string, unknown>>({
      queryOptions: {
        filter,
        select: [
          'RowKey',
          'status',
          'kind',
          'name',
          'createdAt',
          'updatedAt',
          'finishedAt',
          'watchedTasks',
          'active',
        ],
      },
    })) {
      out.push(summaryOf(row));
    }
    out.sort((a, b) =>
      a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1,
    );
    return options.limit ? out.slice(0, options.limit) : out;
  }
}
