// The last run of every timer job and its outcome, for the status page and health.
import type { TableClient } from '@azure/data-tables';
import { storageStatus } from '../storage/conditional.js';
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
}

const tableName = 'jobruns';
const partition = 'last';

async function table(tables: TableStore): Promise<TableClient> {
  return tables.table(tableName);
}

/** Record a job's latest run (last writer wins: this is a display record, not a claim). */
export async function recordJobRun(tables: TableStore, record: JobRunRecord): Promise<void> {
  const client = await table(tables);
  await client.upsertEntity(
    {
      partitionKey: partition,
      rowKey: encodeKey(record.job),
      ...record,
      summary: record.summary.slice(0, 4000),
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
      });
    }
  } catch (err) {
    if (storageStatus(err) !== 404) throw err;
  }
  return out.sort((a, b) => a.job.localeCompare(b.job));
}
