// The daily prune against real Table Storage (Azurite): what goes, what stays, once a day, bounded per poll.
import type { TableClient } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock.js';
import { ensureTable } from '../../shared/cooperation/ensureDeployed.js';
import { locksTableName } from '../../shared/locks/rows.js';
import { octopusEventSchema } from '../../shared/events/payload.js';
import {
  advanceWatermark,
  eventRowKey,
  eventsTable,
  markEventsProcessed,
  storeEventOnce,
} from '../../shared/events/store.js';
import { SlotStore, promotionsTable } from '../../shared/promotion/slotStore.js';
import { JOBS_TABLE, REPORT_PARTITION } from '../../shared/report/dailyReportJob.js';
import { runDailyPrune, type DailyPruneOutcome } from '../../shared/retention/dailyPrune.js';
import { retentionPolicy, type RetentionPolicy } from '../../shared/retention/policy.js';
import type { PassResult } from '../../shared/retention/prunePass.js';
import { newRunState } from '../../shared/runs/decide.js';
import { RunStore, runsTable } from '../../shared/runs/store.js';
import type { RunPlan, RunState } from '../../shared/runs/types.js';
import { statusConsumers } from '../../shared/app/consumers.js';
import { retentionPhases } from '../../shared/app/retention.js';
import { encodeKey } from '../../shared/storage/keys.js';
import type { TableStore } from '../../shared/storage/tableStore.js';
import { tableStoreForTest } from '../helpers/storage.js';

const today = '2026-06-15T12:00:00.000Z';
const day = 86_400_000;
const daysAgo = (n: number, from = today) => new Date(Date.parse(from) - n * day);

function setup(policy: Partial<RetentionPolicy> = {}) {
  const tables = tableStoreForTest();
  const clock = new ManualClock(today);
  const prune = (instanceId = 'instance-a') =>
    runDailyPrune({
      tables,
      clock,
      instanceId,
      policy: retentionPolicy(policy),
      phases: retentionPhases,
    });
  return { tables, clock, prune };
}

function pruned(outcome: DailyPruneOutcome): PassResult {
  if (outcome.kind !== 'pruned') throw new Error(`expected a prune pass, got ${outcome.kind}`);
  return outcome.pass;
}

async function rowKeys(client: TableClient, partitionKey?: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const row of client.listEntities()) {
    if (partitionKey === undefined || row.partitionKey === partitionKey)
      keys.push(`${partitionKey === undefined ? `${row.partitionKey}/` : ''}${row.rowKey}`);
  }
  return keys.sort();
}

function octopusEvent(n: number) {
  return octopusEventSchema.parse({
    Id: `Events-${n}`,
    Category: 'DeploymentSucceeded',
    Occurred: today,
    RelatedDocumentIds: ['Deployments-1'],
    SpaceId: 'Spaces-1',
    Message: `event ${n}`,
  });
}

/** Store events numbered `from`..`to` as received `receivedDaysAgo`, processed or not. */
async function storeEvents(
  tables: TableStore,
  numbers: number[],
  receivedDaysAgo: number,
  processed: boolean,
): Promise<void> {
  const receivedAt = daysAgo(receivedDaysAgo);
  for (let i = 0; i < numbers.length; i += 25) {
    await Promise.all(
      numbers
        .slice(i, i + 25)
        .map((n) => storeEventOnce(tables, octopusEvent(n), { receivedAt, receivedBy: 'test' })),
    );
  }
  if (processed)
    await markEventsProcessed(
      tables,
      numbers.map((n) => eventRowKey(`Events-${n}`)),
      receivedAt,
    );
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

const plan: RunPlan = {
  kind: 'adhoc',
  name: 'retention test',
  stages: [],
  onFailure: [],
  onFailureWhenCancelled: false,
  timeoutMinutes: 60,
  recipients: [],
};

/** Store a run created `createdDaysAgo`; finished `finishedDaysAgo` (with its email in `mail`) unless undefined. */
async function storeRun(
  tables: TableStore,
  id: string,
  createdDaysAgo: number,
  finishedDaysAgo: number | undefined,
  mail: RunState['finishedMail']['status'] = 'sent',
): Promise<void> {
  const state = newRunState(id, plan, { kind: 'api', by: 'test' }, daysAgo(createdDaysAgo));
  if (finishedDaysAgo !== undefined) {
    state.status = 'succeeded';
    state.finishedAt = daysAgo(finishedDaysAgo).toISOString();
    state.updatedAt = state.finishedAt;
    state.finishedMail = { status: mail };
  }
  expect(await new RunStore(tables).create(state)).toBe(true);
}

describe('the daily prune', () => {
  it('deletes processed events past the retention and keeps unprocessed, recent ones and the watermark', async () => {
    const { tables, prune } = setup();
    await storeEvents(tables, [1, 2, 3], 40, true);
    await storeEvents(tables, [4], 40, false); // old but never processed
    await storeEvents(tables, [5], 29, true); // processed, inside the 30 days
    await storeEvents(tables, [6], 1, false);
    await advanceWatermark(tables, eventRowKey('Events-3'));

    const pass = pruned(await prune());

    expect(pass).toMatchObject({ complete: true, deleted: { events: 3 } });
    const events = await tables.table(eventsTable);
    expect(await rowKeys(events)).toEqual([
      `octopus/${eventRowKey('Events-4')}`,
      `octopus/${eventRowKey('Events-5')}`,
      `octopus/${eventRowKey('Events-6')}`,
      'state/watermark',
    ]);
  });

  it('deletes runs finished before the retention and keeps active, unfinished and recent ones', async () => {
    const { tables, prune } = setup();
    await storeRun(tables, 'run-old-finished', 120, 100);
    await storeRun(tables, 'run-old-mail-pending', 120, 100, 'pending'); // still has work
    await storeRun(tables, 'run-old-still-running', 120, undefined);
    await storeRun(tables, 'run-started-long-ago-finished-recently', 120, 10);

    const pass = pruned(await prune());

    expect(pass.deleted).toMatchObject({ runs: 1 });
    expect(await rowKeys(await tables.table(runsTable))).toEqual([
      'run/run-old-mail-pending',
      'run/run-old-still-running',
      'run/run-started-long-ago-finished-recently',
    ]);
  });

  it('deletes the lock a pruned run advanced under, and no other lock', async () => {
    const { tables, prune } = setup();
    await storeRun(tables, 'run-gone', 120, 100);
    await storeRun(tables, 'run-kept', 120, 10);
    const locks = await tables.table(locksTableName);
    for (const name of ['job/run/run-gone', 'job/run/run-kept', 'db-migrations']) {
      await locks.createEntity({ partitionKey: encodeKey(name), rowKey: 'a-lock', fence: 3 });
      await locks.createEntity({ partitionKey: encodeKey(name), rowKey: 'h-0001', fence: 3 });
    }

    await prune();

    expect(await rowKeys(locks)).toEqual([
      `${encodeKey('db-migrations')}/a-lock`,
      `${encodeKey('db-migrations')}/h-0001`,
      `${encodeKey('job/run/run-kept')}/a-lock`,
      `${encodeKey('job/run/run-kept')}/h-0001`,
    ]);
  });

  it('deletes ensure-deployed claims whose run finished, before their runs, and keeps the others', async () => {
    const { tables, prune } = setup();
    const ensure = await tables.table(ensureTable);
    const claim = (target: string, runId: string, createdDaysAgo: number) =>
      ensure.createEntity({
        partitionKey: target,
        rowKey: 'current',
        runId,
        releaseId: 'Releases-1',
        version: '1.0.0',
        project: 'Web',
        environment: 'Production',
        tenant: '',
        createdAt: daysAgo(createdDaysAgo).toISOString(),
      });
    await storeRun(tables, 'run-a', 120, 100);
    await storeRun(tables, 'run-b', 20, undefined);
    await storeRun(tables, 'run-c', 2, 1);
    await claim('Projects-1%2FEnvironments-1%2F', 'run-a', 120); // old, run finished: goes
    await claim('Projects-2%2FEnvironments-1%2F', 'run-b', 20); // old, run still going: stays
    await claim('Projects-3%2FEnvironments-1%2F', 'run-c', 2); // recent: stays
    await claim('Projects-4%2FEnvironments-1%2F', 'run-never-stored', 30); // its starter died: goes

    const pass = pruned(await prune());

    expect(pass.deleted).toMatchObject({ ensureClaims: 2, runs: 1 });
    expect(await rowKeys(ensure)).toEqual([
      'Projects-2%2FEnvironments-1%2F/current',
      'Projects-3%2FEnvironments-1%2F/current',
    ]);
    expect(await rowKeys(await tables.table(runsTable))).toEqual(['run/run-b', 'run/run-c']);
  });

  it('deletes report days, daily claims and promotion slots past the retention, never a watermark', async () => {
    const { tables, prune } = setup();
    const jobs = await tables.table(JOBS_TABLE);
    for (const date of ['2026-03-01', '2026-03-16', '2026-06-12'])
      await jobs.createEntity({ partitionKey: REPORT_PARTITION, rowKey: date, status: 'sent' });
    await jobs.createEntity({ partitionKey: 'lock-history-prune', rowKey: '2026-03-01', by: 'x' });
    await jobs.createEntity({ partitionKey: 'lock-history-prune', rowKey: '2026-06-15', by: 'x' });
    await jobs.createEntity({ partitionKey: 'health', rowKey: 'probe' }); // not ours: kept

    const slots = new SlotStore(tables);
    const slot = (name: string, key: string, claimedDaysAgo: number) =>
      slots.claim({
        promotion: name,
        slot: key,
        state: 'started',
        claimedAt: daysAgo(claimedDaysAgo).toISOString(),
        claimedBy: 'test',
      });
    await slot('nightly', '2026-03-01T18:00Z', 106);
    await slot('nightly', 'manual-2026-03-02T09:13Z', 105);
    await slot('nightly', '2026-06-14T18:00Z', 1);
    await slots.advanceWatermark('nightly', daysAgo(200), undefined); // a long-stopped promotion

    const pass = pruned(await prune());

    // 90 days before 2026-06-15 is 2026-03-17: the 16th goes, the 17th would stay.
    expect(pass.deleted).toMatchObject({ jobSlots: 3, promotionSlots: 2 });
    expect(await rowKeys(jobs)).toEqual([
      'health/probe',
      'lock-history-prune/2026-06-15',
      'report/2026-06-12',
      'retention-prune/2026-06-15',
    ]);
    expect(await rowKeys(await tables.table(promotionsTable))).toEqual([
      'promotion%2Fnightly/2026-06-14T18:00Z',
      'watermark/nightly',
    ]);
  });

  it('runs once per UTC day: a second prune the same day does nothing, the next day prunes again', async () => {
    const { tables, clock, prune } = setup();
    await storeEvents(tables, [1], 40, true);
    expect(pruned(await prune()).deleted).toMatchObject({ events: 1 });

    await storeEvents(tables, [2], 40, true);
    expect(await prune('instance-b')).toEqual({ kind: 'doneToday' });
    expect(await prune()).toEqual({ kind: 'doneToday' });
    const events = await tables.table(eventsTable);
    expect(await rowKeys(events, 'octopus')).toEqual([eventRowKey('Events-2')]);

    clock.set('2026-06-16T00:00:30Z');
    expect(pruned(await prune('instance-b')).deleted).toMatchObject({ events: 1 });
    expect(await rowKeys(events, 'octopus')).toEqual([]);
  });

  it('deletes at most the per-poll bound and continues on the next polls until done', async () => {
    const { tables, clock, prune } = setup({ maxDeletesPerPoll: 40 });
    await storeEvents(tables, range(1, 100), 40, true);
    await storeEvents(tables, [101], 40, false);
    const events = await tables.table(eventsTable);

    const totals: number[] = [];
    let outcome = await prune();
    while (outcome.kind === 'pruned') {
      totals.push(outcome.pass.total);
      const left = (await rowKeys(events, 'octopus')).length;
      expect(left).toBe(101 - totals.reduce((a, b) => a + b, 0));
      expect(outcome.pass.complete).toBe(left === 1);
      clock.advance(60_000); // the next status poll
      outcome = await prune(totals.length % 2 === 0 ? 'instance-a' : 'instance-b');
    }
    expect(totals).toEqual([40, 40, 20]);
    expect(outcome).toEqual({ kind: 'doneToday' });
    expect(await rowKeys(events, 'octopus')).toEqual([eventRowKey('Events-101')]);
  });

  it('leaves the day to the instance whose pass is under way', async () => {
    const { tables, prune } = setup();
    const jobs = await tables.table(JOBS_TABLE);
    await jobs.createEntity({
      partitionKey: 'retention-prune',
      rowKey: '2026-06-15',
      state: 'running',
      by: 'instance-z',
      leaseUntil: '2026-06-15T12:03:00.000Z',
      passes: 1,
      deleted: 0,
      updatedAt: '2026-06-15T11:58:00.000Z',
    });
    expect(await prune()).toEqual({ kind: 'busy', by: 'instance-z' });
  });
});

describe('the retention policy', () => {
  it('never lets a slot row go while a scheduler may still look at its slot, nor runs before events', () => {
    const p = retentionPolicy({ jobSlotDays: 1, finishedRunDays: 5, processedEventDays: 14 });
    expect(p.jobSlotDays).toBe(8);
    expect(p.finishedRunDays).toBe(14);
  });

  it('is part of the status poll', () => {
    expect(statusConsumers.map((c) => c.name)).toContain('retention');
  });
});

describe('the run store', () => {
  it('lists active runs and runs finished since a time, and leaves older finished runs in storage', async () => {
    const { tables } = setup();
    await storeRun(tables, 'run-finished-long-ago', 120, 100);
    await storeRun(tables, 'run-finished-long-ago-mail-pending', 120, 100, 'pending'); // still has work
    await storeRun(tables, 'run-still-running', 120, undefined);
    await storeRun(tables, 'run-finished-yesterday', 3, 1);

    const listed = await new RunStore(tables).list({
      activeOrFinishedSince: daysAgo(2).toISOString(),
    });

    expect(listed.map((r) => r.id).sort()).toEqual([
      'run-finished-long-ago-mail-pending',
      'run-finished-yesterday',
      'run-still-running',
    ]);
  });
});
