// Trains in Table Storage (table `trains`): one row per train in its set's partition, and one "live"
// row per set × environment × tenant saying which combination stands there and its train, if any.
// Times that decide verification are storage times (Date headers), never an instance's clock.
import { odata, type TableClient } from '@azure/data-tables';
import {
  createIfAbsent,
  deleteIfMatch,
  getOrUndefined,
  listPartition,
  updateIfMatch,
  type WriteOutcome,
} from '../storage/conditional.js';
import { fromJsonParts, jsonParts } from '../storage/jsonParts.js';
import { encodeKey } from '../storage/keys.js';
import type { PruneBudget, PruneResult } from '../storage/prune.js';
import { storageStatus } from '../storage/conditional.js';
import { tableNames } from '../storage/tables.js';
import type { TableStore } from '../storage/tableStore.js';
import type { Train, TrainMember, TrainState } from './model.js';

export const trainsTable = tableNames.trains;
/** The partition of the live rows (set names never start with `~`). */
export const livePartition = '~live';

interface TrainRow {
  kind: 'train';
  id: string;
  set: string;
  space: string;
  spaceId: string;
  environment: string;
  environmentId: string;
  tenant: string;
  tenantId: string;
  capturedAt: string;
  capturedBy: string;
  /** The deployments the current standing period stands on ('' while interrupted). */
  standingFingerprint: string;
  standingSince: string;
  verifiedAt: string;
  verifiedSoakMinutes: number;
  interruptedAt: string;
  interruption: string;
  members: string;
}

/** Which combination stands in one set × environment × tenant, as the last status poll saw it. */
export interface LiveRow {
  set: string;
  environment: string;
  environmentId: string;
  tenant: string;
  tenantId: string;
  /** The id the standing combination has (or would have) as a train; '' when the set is not complete there. */
  comboId: string;
  /** comboId when that train was captured, else ''. */
  trainId: string;
  state: TrainState | '';
  standingSince: string;
  verifiedAt: string;
  capturedAt: string;
}

export const liveRowKey = (set: string, environmentId: string, tenantId: string | null): string =>
  encodeKey(`${set}\u0001${environmentId}\u0001${tenantId ?? ''}`);

const trainPartition = (set: string) => encodeKey(set);

function stateOf(row: Pick<TrainRow, 'verifiedAt' | 'standingSince'>): TrainState {
  if (row.verifiedAt) return 'verified';
  return row.standingSince ? 'soaking' : 'interrupted';
}

function fromRow(row: TrainRow): Train {
  return {
    id: row.id,
    set: row.set,
    space: row.space,
    spaceId: row.spaceId,
    environment: row.environment,
    environmentId: row.environmentId,
    tenant: row.tenant || null,
    tenantId: row.tenantId || null,
    members: fromJsonParts<TrainMember[]>(row, 'members'),
    capturedAt: row.capturedAt,
    capturedBy: row.capturedBy,
    state: stateOf(row),
    standingSince: row.standingSince || null,
    verifiedAt: row.verifiedAt || null,
    verifiedSoakMinutes: row.verifiedAt ? row.verifiedSoakMinutes : null,
    interruptedAt: row.interruptedAt || null,
    interruption: row.interruption || null,
  };
}

/** A train as stored, with what a conditional write needs. */
export interface StoredTrain {
  train: Train;
  fingerprint: string;
  etag: string;
}

/** Milliseconds of an HTTP Date header (storage time, whole seconds, rounded down), or undefined. */
function dateHeaderMs(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Newest verification first, then the greater id (code-unit order: ids and ISO times alike). */
function newestVerificationFirst(
  a: { id: string; verifiedAt?: string | null | undefined },
  b: { id: string; verifiedAt?: string | null | undefined },
): number {
  const order = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  return order(b.verifiedAt ?? '', a.verifiedAt ?? '') || order(b.id, a.id);
}

export class TrainStore {
  constructor(private readonly tables: TableStore) {}

  private table(): Promise<TableClient> {
    return this.tables.table(trainsTable);
  }

  /**
   * One train and the storage time of the read (its Date header: at most the true time of the read).
   * Undefined train when it was never captured.
   */
  async read(
    set: string,
    id: string,
  ): Promise<{ stored: StoredTrain | undefined; storageNowMs: number }> {
    const table = await this.table();
    let date: number | undefined;
    let row: (TrainRow & { etag?: string }) | undefined;
    try {
      row = await table.getEntity<TrainRow>(trainPartition(set), id, {
        onResponse: (r) => {
          date ??= dateHeaderMs(r.headers.get('date'));
        },
      });
    } catch (err) {
      if (storageStatus(err) !== 404) throw err;
    }
    if (date === undefined)
      throw new Error('Table Storage sent no Date header: cannot time a train soak');
    return {
      stored: row
        ? { train: fromRow(row), fingerprint: row.standingFingerprint, etag: row.etag ?? '*' }
        : undefined,
      storageNowMs: date,
    };
  }

  /** Create a train; `exists` when the same combination was captured first by someone else. */
  async create(train: Train, fingerprint: string): Promise<WriteOutcome> {
    return createIfAbsent(await this.table(), {
      partitionKey: trainPartition(train.set),
      rowKey: train.id,
      kind: 'train',
      id: train.id,
      set: train.set,
      space: train.space,
      spaceId: train.spaceId,
      environment: train.environment,
      environmentId: train.environmentId,
      tenant: train.tenant ?? '',
      tenantId: train.tenantId ?? '',
      capturedAt: train.capturedAt,
      capturedBy: train.capturedBy.slice(0, 500),
      standingFingerprint: fingerprint,
      standingSince: train.standingSince ?? '',
      verifiedAt: '',
      verifiedSoakMinutes: 0,
      interruptedAt: '',
      interruption: '',
      ...jsonParts(trainsTable, 'members', train.members),
    });
  }

  /** Change the soak fields of a train read with `etag` (never its members). */
  async updateSoak(
    set: string,
    id: string,
    etag: string,
    fields: Partial<
      Pick<
        TrainRow,
        | 'standingFingerprint'
        | 'standingSince'
        | 'verifiedAt'
        | 'verifiedSoakMinutes'
        | 'interruptedAt'
        | 'interruption'
      >
    >,
  ): Promise<WriteOutcome> {
    return updateIfMatch(
      await this.table(),
      { partitionKey: trainPartition(set), rowKey: id, ...fields },
      etag,
      'Merge',
    );
  }

  async get(set: string, id: string): Promise<Train | undefined> {
    const row = await getOrUndefined<TrainRow>(await this.table(), trainPartition(set), id);
    return row ? fromRow(row) : undefined;
  }

  /** Every train of a set (one partition), newest capture first. */
  async listSet(set: string): Promise<Train[]> {
    const rows = await listPartition<TrainRow>(await this.table(), trainPartition(set));
    return rows
      .filter((r) => r.kind === 'train')
      .map(fromRow)
      .sort((a, b) => b.capturedAt.localeCompare(a.capturedAt));
  }

  /**
   * The newest `limit` trains of the given sets, newest capture first: one query of each set's
   * partition (a few at a time), never a scan of the table, so rows of other sets (sets no longer
   * configured) and the live rows cost nothing.
   */
  async listSets(sets: readonly string[], limit: number): Promise<Train[]> {
    const out: Train[] = [];
    const parallel = 8;
    for (let i = 0; i < sets.length; i += parallel) {
      const lists = await Promise.all(sets.slice(i, i + parallel).map((set) => this.listSet(set)));
      for (const list of lists) out.push(...list.slice(0, limit));
    }
    return out.sort((a, b) => b.capturedAt.localeCompare(a.capturedAt)).slice(0, limit);
  }

  /**
   * The verified trains of a set in one environment (and tenant), newest verification first: one
   * query of the set's partition, filtered by storage.
   */
  async verifiedIn(set: string, environmentId: string, tenantId: string | null): Promise<Train[]> {
    const filter = odata`PartitionKey eq ${trainPartition(set)} and environmentId eq ${environmentId} and tenantId eq ${tenantId ?? ''} and verifiedAt ne ${''}`;
    const out: Train[] = [];
    for await (const row of (await this.table()).listEntities<TrainRow>({
      queryOptions: { filter },
    }))
      out.push(fromRow(row));
    return out.sort(newestVerificationFirst);
  }

  /** The trains of a set in one environment (and tenant) that are not verified (for "why none qualifies"). */
  async unverifiedIn(
    set: string,
    environmentId: string,
    tenantId: string | null,
  ): Promise<Train[]> {
    const filter = odata`PartitionKey eq ${trainPartition(set)} and environmentId eq ${environmentId} and tenantId eq ${tenantId ?? ''} and verifiedAt eq ${''}`;
    const out: Train[] = [];
    for await (const row of (await this.table()).listEntities<TrainRow>({
      queryOptions: { filter },
    }))
      out.push(fromRow(row));
    return out.sort((a, b) => b.capturedAt.localeCompare(a.capturedAt));
  }

  /** Every live row (one partition), by row key. */
  async liveRows(): Promise<Map<string, LiveRow & { etag: string }>> {
    const rows = await listPartition<LiveRow>(await this.table(), livePartition);
    return new Map(rows.map((r) => [r.rowKey ?? '', { ...r, etag: r.etag ?? '*' }]));
  }

  async getLive(rowKey: string): Promise<(LiveRow & { etag: string }) | undefined> {
    const row = await getOrUndefined<LiveRow>(await this.table(), livePartition, rowKey);
    return row ? { ...row, etag: row.etag ?? '*' } : undefined;
  }

  /** Write a live row: create it, or replace the one read with `etag`. */
  async putLive(rowKey: string, row: LiveRow, etag: string | undefined): Promise<WriteOutcome> {
    const entity = { partitionKey: livePartition, rowKey, ...row };
    const table = await this.table();
    return etag ? updateIfMatch(table, entity, etag) : createIfAbsent(table, entity);
  }

  /**
   * Delete the trains nothing needs any more (retention): last touched (captured, standing, verified,
   * interrupted) before `before`, and none of these: the newest verified train of its set ×
   * environment × tenant (what a promotion or `latestVerified` takes), a train a live row names (it
   * stands somewhere, perhaps soaking), or one of `pinned` (what active runs and the config name).
   * Kept rows count as examined only, so they never use up the deletes; each delete is ETag-checked,
   * so a train that stood again since it was read is kept.
   */
  async prune(
    before: Date,
    budget: PruneBudget,
    pinned: () => Promise<ReadonlySet<string>>,
  ): Promise<PruneResult> {
    if (budget.exhausted) return { deleted: 0, complete: false };
    const table = await this.table();
    const at = before.toISOString();
    // '' (never stood, never verified, never interrupted) is less than any time.
    const filter = odata`kind eq ${'train'} and capturedAt lt ${at} and standingSince lt ${at} and verifiedAt lt ${at} and interruptedAt lt ${at}`;
    let keep: ReadonlySet<string> | undefined;
    const newestVerified = new Map<string, Promise<string | undefined>>();
    const newestIn = (set: string, environmentId: string, tenantId: string) => {
      const key = JSON.stringify([set, environmentId, tenantId]);
      let found = newestVerified.get(key);
      if (!found) {
        found = this.newestVerifiedId(set, environmentId, tenantId, budget);
        newestVerified.set(key, found);
      }
      return found;
    };
    const doomed: { partitionKey: string; rowKey: string; etag: string }[] = [];
    let complete = true;
    for await (const row of table.listEntities<
      Pick<TrainRow, 'id' | 'set' | 'environmentId' | 'tenantId' | 'verifiedAt'>
    >({
      queryOptions: {
        filter,
        select: ['PartitionKey', 'RowKey', 'id', 'set', 'environmentId', 'tenantId', 'verifiedAt'],
      },
    })) {
      budget.examined += 1;
      if (!keep) {
        const named = new Set(await pinned());
        for (const live of (await this.liveRows()).values())
          if (live.trainId) named.add(live.trainId);
        keep = named;
      }
      const isNewestVerified =
        row.verifiedAt !== '' &&
        (await newestIn(row.set, row.environmentId, row.tenantId)) === row.id;
      if (!keep.has(row.id) && !isNewestVerified)
        doomed.push({
          partitionKey: row.partitionKey ?? '',
          rowKey: row.rowKey ?? '',
          etag: row.etag ?? '*',
        });
      if (doomed.length >= budget.deletesLeft || budget.examined >= budget.maxExamined) {
        complete = false;
        break;
      }
    }
    budget.deleted += doomed.length;
    let deleted = 0;
    for (const d of doomed)
      if ((await deleteIfMatch(table, d.partitionKey, d.rowKey, d.etag)).ok) deleted += 1;
    return { deleted, complete };
  }

  /** The id of the newest verified train of one set × environment × tenant (one query of the set's partition). */
  private async newestVerifiedId(
    set: string,
    environmentId: string,
    tenantId: string,
    budget: PruneBudget,
  ): Promise<string | undefined> {
    const filter = odata`PartitionKey eq ${trainPartition(set)} and environmentId eq ${environmentId} and tenantId eq ${tenantId} and verifiedAt ne ${''}`;
    let newest: { id: string; verifiedAt: string } | undefined;
    for await (const row of (await this.table()).listEntities<Pick<TrainRow, 'id' | 'verifiedAt'>>({
      queryOptions: { filter, select: ['id', 'verifiedAt'] },
    })) {
      budget.examined += 1;
      // The order verifiedIn chooses by, so prune keeps the train promotions take.
      if (!newest || newestVerificationFirst(row, newest) < 0)
        newest = { id: row.id, verifiedAt: row.verifiedAt };
    }
    return newest?.id;
  }
}
