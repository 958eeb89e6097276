// Promotion slots in Table Storage: each slot claimed once (create-if-absent), then its outcome recorded.
import type { TableClient } from '@azure/data-tables';
import {
  claimOnce,
  createIfAbsent,
  getOrUndefined,
  listPartition,
  updateIfMatch,
} from '../storage/conditional.js';
import { encodeKey } from '../storage/keys.js';
import { pruneMatching, type PruneBudget, type PruneResult } from '../storage/prune.js';
import type { TableStore } from '../storage/tableStore.js';

export const promotionsTable = 'promotions';

export type SlotState =
  /** Claimed by an instance that is planning it now. */
  | 'claimed'
  /** A run was started (runId). */
  | 'started'
  /** A guard or condition stopped it (detail lists why). */
  | 'blocked'
  /** Every project was current already. */
  | 'nothing'
  /** Older than the catch-up window when first seen: reported, never run. */
  | 'missed'
  /** A newer due slot ran instead (several slots fell inside the catch-up window). */
  | 'superseded'
  /** Planning failed (Octopus unreachable, unknown names): detail says why. */
  | 'failed';

export interface SlotRecord {
  promotion: string;
  /** The slot, UTC, e.g. 2026-11-21T18:00Z (or manual-… for a manual run). */
  slot: string;
  state: SlotState;
  claimedAt: string;
  claimedBy: string;
  updatedAt: string;
  runId?: string;
  /** Blockers, the failure, or a note, one per line. */
  detail?: string;
  /** The plan as text (what was decided and why). */
  plan?: string;
}

type SlotRow = Omit<SlotRecord, 'promotion' | 'slot'> & { promotion: string; slot: string };

const slotPartition = (promotion: string) => encodeKey(`promotion/${promotion}`);
const watermarkPartition = 'watermark';
const cap = (s: string | undefined) => (s === undefined ? undefined : s.slice(0, 30_000));

export class SlotStore {
  constructor(private readonly tables: TableStore) {}

  private table(): Promise<TableClient> {
    return this.tables.table(promotionsTable);
  }

  /** Claim a slot; false when somebody (another instance, an earlier try) has it already. */
  async claim(record: Omit<SlotRecord, 'updatedAt'>): Promise<boolean> {
    const outcome = await claimOnce<SlotRow>(
      await this.table(),
      { partitionKey: slotPartition(record.promotion), rowKey: record.slot },
      {
        ...record,
        updatedAt: record.claimedAt,
        detail: cap(record.detail),
        plan: cap(record.plan),
      },
      { readHolder: false },
    );
    return outcome.mine;
  }

  async get(promotion: string, slot: string): Promise<(SlotRecord & { etag: string }) | undefined> {
    const row = await getOrUndefined<SlotRow>(await this.table(), slotPartition(promotion), slot);
    return row ? { ...stripRow(row), etag: row.etag ?? '*' } : undefined;
  }

  /** Record the outcome; with `etag`, only if nobody wrote the row since (a takeover of a stale claim). */
  async update(record: SlotRecord, etag = '*'): Promise<boolean> {
    const outcome = await updateIfMatch<SlotRow>(
      await this.table(),
      {
        partitionKey: slotPartition(record.promotion),
        rowKey: record.slot,
        ...record,
        detail: cap(record.detail),
        plan: cap(record.plan),
      },
      etag,
    );
    return outcome.ok;
  }

  /**
   * Delete slots claimed before `before` (claimedAt is when the row was written, always after the
   * slot's own time; manual slots too). The per-promotion watermarks are kept: they are not slots.
   * The caller keeps `before` older than any slot the scheduler still looks at, or a slot could run twice.
   */
  async prune(before: Date, budget: PruneBudget): Promise<PruneResult> {
    const { odata } = await import('@azure/data-tables');
    return pruneMatching(
      await this.table(),
      {
        filter: odata`PartitionKey ne ${watermarkPartition} and claimedAt lt ${before.toISOString()}`,
        select: ['claimedAt'],
      },
      budget,
    );
  }

  /** Every slot of a promotion, newest first. */
  async list(promotion: string): Promise<SlotRecord[]> {
    const rows = await listPartition<SlotRow>(await this.table(), slotPartition(promotion));
    return rows.map(stripRow).sort((a, b) => (a.slot < b.slot ? 1 : -1));
  }

  /** The most recently written slot of each promotion, from one query of the table (for the status page). */
  async latestOfEach(): Promise<Map<string, SlotRecord>> {
    const latest = new Map<string, SlotRecord>();
    for await (const row of (await this.table()).listEntities<SlotRow>()) {
      if (row.partitionKey === watermarkPartition || typeof row.promotion !== 'string') continue;
      const record = stripRow(row);
      const before = latest.get(record.promotion);
      if (!before || before.updatedAt < record.updatedAt) latest.set(record.promotion, record);
    }
    return latest;
  }

  /** Until when slots were examined (undefined before the first pass). */
  async watermark(promotion: string): Promise<{ until: Date; etag: string } | undefined> {
    const row = await getOrUndefined<{ scannedUntil: string }>(
      await this.table(),
      watermarkPartition,
      encodeKey(promotion),
    );
    return row ? { until: new Date(row.scannedUntil), etag: row.etag ?? '*' } : undefined;
  }

  /** Move the watermark forward (never back); a concurrent writer wins and that is fine. */
  async advanceWatermark(
    promotion: string,
    until: Date,
    previous: { until: Date; etag: string } | undefined,
  ): Promise<void> {
    if (previous && previous.until.getTime() >= until.getTime()) return;
    const entity = {
      partitionKey: watermarkPartition,
      rowKey: encodeKey(promotion),
      scannedUntil: until.toISOString(),
    };
    if (previous) await updateIfMatch(await this.table(), entity, previous.etag);
    else await createIfAbsent(await this.table(), entity);
  }
}

function stripRow(row: Record<string, unknown> & SlotRow): SlotRecord {
  const {
    partitionKey: _p,
    rowKey: _r,
    etag: _e,
    timestamp: _t,
    ...rest
  } = row as SlotRow & {
    partitionKey?: string;
    rowKey?: string;
    etag?: string;
    timestamp?: string;
  };
  return rest;
}
