// What one prune pass may still do: delete so many rows and read so many, so a status poll stays short.
import type { TableClient } from '@azure/data-tables';

export class PruneBudget {
  deleted = 0;
  examined = 0;

  constructor(
    readonly maxDeletes: number,
    readonly maxExamined: number,
  ) {}

  get deletesLeft(): number {
    return Math.max(0, this.maxDeletes - this.deleted);
  }

  get exhausted(): boolean {
    return this.deletesLeft === 0 || this.examined >= this.maxExamined;
  }
}

export type Row = Record<string, unknown> & {
  partitionKey?: string;
  rowKey?: string;
  etag?: string;
};

export interface Candidates {
  rows: Row[];
  /** True when the query was read to its end; false when the budget stopped it (more may remain). */
  complete: boolean;
}

/**
 * Rows matching `filter` that `keep` does not keep, read until the query ends or the budget is spent.
 * Each row read counts as examined; the rows returned are at most the deletes left.
 */
export async function findCandidates(
  client: TableClient,
  query: { filter: string; select?: string[] },
  budget: PruneBudget,
  keep: (row: Row) => boolean = () => false,
): Promise<Candidates> {
  const rows: Row[] = [];
  if (budget.exhausted) return { rows, complete: false };
  const select = query.select ? ['PartitionKey', 'RowKey', ...query.select] : undefined;
  for await (const row of client.listEntities<Row>({
    queryOptions: { filter: query.filter, ...(select ? { select } : {}) },
  })) {
    budget.examined += 1;
    if (!keep(row)) rows.push(row);
    if (rows.length >= budget.deletesLeft || budget.examined >= budget.maxExamined)
      return { rows, complete: false };
  }
  return { rows, complete: true };
}
