// The last run of every timer job and its outcome, for the status page and health.
import type { TableClient } from '@azure/data-tables';
import { getOrUndefined, storageStatus } from '../storage/conditional.js';
import { encodeKey } from '../storage/keys.js';
import type { TableStore } from '../storage/tableStore.js';

export interface JobRunRecord {
  job: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** ok, skipped (another instance held the job lock), failed. */
  outcome: 'ok' | 'skipped' | 'failed';
  summary: string;
  instance: string;
  isPastDue: boolean;
  /** Failed runs since the last run that did not fail (0 when the last run was ok or skipped). */
  failuresInARow?: number;
  /** When the job last finished ok (a skip is not ok: it says another instance held the lock). */
  lastOkAt?: string;
}

const tableName = 'jobruns';
const partition = 'last';

async function table(tables: TableStore): Promise<TableClient> {
  return tables.table(tableName);
}

/**
 * Record a job's latest run, carrying forward how many runs in a row failed and when it last
 * succeeded, so health can tell a job that keeps failing from one that failed once. Last writer
 * wins (two instances recording at once may lose one count): a display record, not a claim.
 */
export async function recordJobRun(tables: TableStore, record: JobRunRecord): Promise<void> {
  const client = await table(tables);
  const rowKey = encodeKey(record.job);
  const previous = await getOrUndefined<JobRunRecord>(client, partition, rowKey);
  const failuresInARow = record.outcome === 'failed' ? (previous?.failuresInARow ?? 0) + 1 : 0;
  const lastOkAt = record.outcome === 'ok' ? record.finishedAt : previous?.lastOkAt;
  await client.upsertEntity(
    {
      partitionKey: partition,
      rowKey,
      ...record,
      summary: record.summary.slice(0, 4000),
      failuresInARow,
      ...(lastOkAt ? { lastOkAt } : {}),
    },
    'Replace',
  );
}

export async function listJobRuns(tables: TableStore): Promise<JobRunRecord[]> {
  const client = await table(tables);
  const { odata } = await import('@azure/data-tables');
  const out: JobRunRecord[] = [];
  try {
    for await (const row of client.listEntities<JobRunRecord>({
      queryOptions: { filter: odata`PartitionKey eq ${partition}` },
    })) {
      out.push({
        job: row.job,
        startedAt: row.startedAt,
        finishedAt: row.finishedAt,
        durationMs: row.durationMs,
        outcome: row.outcome,
        summary: row.summary,
        instance: row.instance,
        isPastDue: row.isPastDue,
        failuresInARow: row.failuresInARow ?? 0,
        ...(row.lastOkAt ? { lastOkAt: row.lastOkAt } : {}),
      });
    }
  } catch (err) {
    if (storageStatus(err) !== 404) throw err;
  }
  return out.sort((a, b) => a.job.localeCompare(b.job));
}
