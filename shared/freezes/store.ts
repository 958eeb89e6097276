// Coordinator freezes in Table Storage: one row per freeze, created once per request id, lifted (never deleted) by DELETE.
import { createHash, randomBytes } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import {
  createIfAbsent,
  getOrUndefined,
  listPartition,
  updateIfMatch,
} from '../storage/conditional.js';
import { tableNames } from '../storage/tables.js';
import type { TableStore } from '../storage/tableStore.js';
import { isInForce, type Freeze } from './model.js';

const partition = 'freeze';

interface FreezeRow {
  id: string;
  environments: string;
  environmentIds: string;
  reason: string;
  by: string;
  createdAt: string;
  until?: string;
  allowRollbacks: boolean;
  requestId?: string;
  liftedAt?: string;
  liftedBy?: string;
  liftReason?: string;
}

/** A freeze id: derived from the request id when there is one (so a repeat finds it), else random. */
export function freezeIdFor(requestId: string | undefined, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').slice(0, 15);
  const tail = requestId
    ? createHash('sha256').update(requestId).digest('hex').slice(0, 12)
    : randomBytes(6).toString('hex');
  return requestId ? `frz-${tail}` : `frz-${stamp}-${tail}`;
}

function toRow(f: Freeze): FreezeRow {
  return {
    id: f.id,
    environments: JSON.stringify(f.environments),
    environmentIds: JSON.stringify(f.environmentIds),
    reason: f.reason,
    by: f.by,
    createdAt: f.createdAt,
    allowRollbacks: f.allowRollbacks,
    ...(f.until ? { until: f.until } : {}),
    ...(f.requestId ? { requestId: f.requestId } : {}),
    ...(f.liftedAt ? { liftedAt: f.liftedAt } : {}),
    ...(f.liftedBy ? { liftedBy: f.liftedBy } : {}),
    ...(f.liftReason ? { liftReason: f.liftReason } : {}),
  };
}

function stringList(json: string | undefined): string[] {
  try {
    const parsed: unknown = JSON.parse(json ?? '[]');
    return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

function fromRow(row: FreezeRow): Freeze {
  const environments = row.environments === 'null' ? null : stringList(row.environments);
  return {
    id: row.id,
    environments,
    environmentIds: stringList(row.environmentIds),
    reason: row.reason,
    by: row.by,
    createdAt: row.createdAt,
    allowRollbacks: row.allowRollbacks !== false,
    ...(row.until ? { until: row.until } : {}),
    ...(row.requestId ? { requestId: row.requestId } : {}),
    ...(row.liftedAt ? { liftedAt: row.liftedAt } : {}),
    ...(row.liftedBy ? { liftedBy: row.liftedBy } : {}),
    ...(row.liftReason ? { liftReason: row.liftReason } : {}),
  };
}

export type LiftOutcome =
  { found: false } | { found: true; freeze: Freeze; alreadyLifted: boolean };

export class FreezeStore {
  constructor(private readonly tables: TableStore) {}

  private table(): Promise<TableClient> {
    return this.tables.table(tableNames.freezes);
  }

  /** Create the freeze, or answer the one its request id already created (`created: false`). */
  async create(f: Freeze): Promise<{ freeze: Freeze; created: boolean }> {
    const table = await this.table();
    const outcome = await createIfAbsent<FreezeRow>(table, {
      partitionKey: partition,
      rowKey: f.id,
      ...toRow(f),
    });
    if (outcome.ok) return { freeze: f, created: true };
    const existing = await this.get(f.id);
    if (!existing) throw new Error(`Freeze ${f.id} was refused as existing but cannot be read.`);
    return { freeze: existing, created: false };
  }

  async get(id: string): Promise<Freeze | undefined> {
    const row = await getOrUndefined<FreezeRow>(await this.table(), partition, id);
    return row ? fromRow(row) : undefined;
  }

  /** Every freeze, newest first (one partition query). */
  async list(): Promise<Freeze[]> {
    const rows = await listPartition<FreezeRow>(await this.table(), partition);
    return rows.map(fromRow).sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
  }

  /** The freezes in force at `at` (one partition query). */
  async inForce(at: Date): Promise<Freeze[]> {
    return (await this.list()).filter((f) => isInForce(f, at));
  }

  /** Lift a freeze (ETag-checked; a second lift answers alreadyLifted and keeps the first one's record). */
  async lift(id: string, by: string, reason: string | undefined, at: Date): Promise<LiftOutcome> {
    const table = await this.table();
    for (let attempt = 0; attempt < 5; attempt++) {
      const row = await getOrUndefined<FreezeRow>(table, partition, id);
      if (!row) return { found: false };
      const freeze = fromRow(row);
      if (freeze.liftedAt !== undefined) return { found: true, freeze, alreadyLifted: true };
      const lifted: Freeze = {
        ...freeze,
        liftedAt: at.toISOString(),
        liftedBy: by,
        ...(reason ? { liftReason: reason } : {}),
      };
      const outcome = await updateIfMatch<FreezeRow>(
        table,
        { partitionKey: partition, rowKey: id, ...toRow(lifted) },
        row.etag ?? '*',
      );
      if (outcome.ok) return { found: true, freeze: lifted, alreadyLifted: false };
    }
    throw new Error(`Freeze ${id} kept changing while it was being lifted; try again.`);
  }
}
