// Release trains against real Table Storage (Azurite): the daily prune deletes old trains nothing may
// still take and keeps the ones something may (the newest verified per set × environment × tenant, a
// train live somewhere, trains an active run or a playbook names); GET /api/trains without a set reads
// the configured sets' partitions only.
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { afterAll, describe, expect, it } from 'vitest';
import { listTrainsHandler } from '../../functions/trains.js';
import { retentionPhases } from '../../shared/app/retention.js';
import { ManualClock } from '../../shared/clock.js';
import {
  coordinationConfigSchema,
  type CoordinationConfig,
} from '../../shared/config/coordination/schema.js';
import { jsonApi } from '../../shared/http/handler.js';
import { runDailyPrune, type DailyPruneOutcome } from '../../shared/retention/dailyPrune.js';
import { retentionPolicy, type RetentionPolicy } from '../../shared/retention/policy.js';
import type { PassResult } from '../../shared/retention/prunePass.js';
import { setRuntime } from '../../shared/runtime/runtime.js';
import { newRunState } from '../../shared/runs/decide.js';
import { RunStore } from '../../shared/runs/store.js';
import type { RunPlan } from '../../shared/runs/types.js';
import type { TableStore } from '../../shared/storage/tableStore.js';
import { trainIdOf, type Train } from '../../shared/trains/model.js';
import { liveRowKey, TrainStore } from '../../shared/trains/store.js';
import { azuriteRuntime } from '../helpers/runtime.js';
import { tableStoreForTest } from '../helpers/storage.js';

const today = '2026-06-15T12:00:00.000Z';
const daysAgo = (n: number) => new Date(Date.parse(today) - n * 86_400_000).toISOString();

interface TrainSpec {
  set?: string;
  environmentId?: string;
  tenantId?: string | null;
  /** Distinguishes the combination (its members' release). */
  release: string;
  capturedDaysAgo: number;
  state:
    { verifiedDaysAgo: number } | { interruptedDaysAgo: number } | { standingSinceDaysAgo: number };
}

/** Store a train as captured and then soaked, interrupted or verified; returns its id. */
async function storeTrain(tables: TableStore, spec: TrainSpec): Promise<string> {
  const set = spec.set ?? 'web-stack';
  const environmentId = spec.environmentId ?? 'Environments-1';
  const tenantId = spec.tenantId ?? null;
  const members = [
    {
      project: 'Web API',
      projectId: 'Projects-1',
      tenant: null,
      releaseId: `Releases-${spec.release}`,
      version: spec.release,
      deploymentId: `Deployments-${spec.release}`,
      taskId: `ServerTasks-${spec.release}`,
      wentLiveAt: daysAgo(spec.capturedDaysAgo),
      deployedBy: 'alice',
    },
  ];
  const id = trainIdOf({ set, environmentId, tenantId, members });
  const capturedAt = daysAgo(spec.capturedDaysAgo);
  const train: Train = {
    id,
    set,
    space: 'Default',
    spaceId: 'Spaces-1',
    environment: environmentId === 'Environments-1' ? 'Test' : 'Production',
    environmentId,
    tenant: tenantId ? `Tenant ${tenantId}` : null,
    tenantId,
    members,
    capturedAt,
    capturedBy: 'api: test',
    state: 'soaking',
    standingSince: capturedAt,
    verifiedAt: null,
    verifiedSoakMinutes: null,
    interruptedAt: null,
    interruption: null,
  };
  const store = new TrainStore(tables);
  expect((await store.create(train, `fp-${spec.release}`)).ok).toBe(true);
  const { stored } = await store.read(set, id);
  if (!stored) throw new Error(`train ${id} was not stored`);
  const s = spec.state;
  const fields =
    'verifiedDaysAgo' in s
      ? { verifiedAt: daysAgo(s.verifiedDaysAgo), verifiedSoakMinutes: 60 }
      : 'interruptedDaysAgo' in s
        ? {
            standingSince: '',
            standingFingerprint: '',
            interruptedAt: daysAgo(s.interruptedDaysAgo),
            interruption: 'Web API failed',
          }
        : { standingSince: daysAgo(s.standingSinceDaysAgo) };
  expect((await store.updateSoak(set, id, stored.etag, fields)).ok).toBe(true);
  return id;
}

/** A run whose deploy takes its release from `trainId`; finished or still running. */
async function storeRunNaming(
  tables: TableStore,
  runId: string,
  trainId: string,
  finished: boolean,
): Promise<void> {
  const plan: RunPlan = {
    kind: 'adhoc',
    name: 'train test',
    stages: [
      {
        name: 'Deploy',
        actions: [
          {
            type: 'deploy',
            id: 'api',
            project: 'Web API',
            environment: 'Production',
            tenant: null,
            release: { releaseId: 'Releases-x', version: 'x', why: 'from a train', train: trainId },
            when: 'ifNotCurrent',
            allowDowngrade: false,
            rollback: false,
          },
        ],
      },
    ],
    onFailure: [],
    onFailureWhenCancelled: false,
    timeoutMinutes: 60,
    recipients: [],
  };
  const state = newRunState(runId, plan, { kind: 'api', by: 'test' }, new Date(daysAgo(150)));
  if (finished) {
    state.status = 'succeeded';
    state.finishedAt = daysAgo(120);
    state.updatedAt = state.finishedAt;
    state.finishedMail = { status: 'sent' };
  }
  expect(await new RunStore(tables).create(state)).toBe(true);
}

function configNaming(trainIds: string[]): CoordinationConfig {
  return coordinationConfigSchema.parse({
    projectSets: {
      'web-stack': { projects: ['Web API'] },
      data: { projects: ['Database'] },
    },
    playbooks: Object.fromEntries(
      trainIds.map((id, i) => [
        `pinned-${i}`,
        {
          stages: [
            {
              name: 'Deploy',
              actions: [
                {
                  type: 'deploy',
                  project: 'Web API',
                  environment: 'Production',
                  release: { train: id },
                },
              ],
            },
          ],
        },
      ]),
    ),
  });
}

function pruner(
  tables: TableStore,
  config: CoordinationConfig | undefined,
  policy: Partial<RetentionPolicy> = {},
  clock = new ManualClock(today),
) {
  const prune = () =>
    runDailyPrune({
      tables,
      clock,
      instanceId: 'instance-a',
      policy: retentionPolicy(policy),
      phases: retentionPhases,
      ...(config ? { config } : {}),
    });
  return { clock, prune };
}

function pruned(outcome: DailyPruneOutcome): PassResult {
  if (outcome.kind !== 'pruned') throw new Error(`expected a prune pass, got ${outcome.kind}`);
  return outcome.pass;
}

async function trainIds(tables: TableStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const row of (await tables.table('trains')).listEntities<{
    kind?: string;
    id?: string;
  }>())
    if (row.kind === 'train') ids.push(row.id ?? '');
  return ids.sort();
}

describe('the daily prune of release trains', () => {
  it('deletes old trains nothing may take, and keeps the newest verified per place, live, run-named, playbook-named and recent ones', async () => {
    const tables = tableStoreForTest();
    const t = (spec: TrainSpec) => storeTrain(tables, spec);
    const staleVerified = await t({
      release: 'a',
      capturedDaysAgo: 210,
      state: { verifiedDaysAgo: 200 },
    });
    const newestVerifiedInTest = await t({
      release: 'b',
      capturedDaysAgo: 160,
      state: { verifiedDaysAgo: 150 },
    });
    const oldInterrupted = await t({
      release: 'c',
      capturedDaysAgo: 130,
      state: { interruptedDaysAgo: 120 },
    });
    const interruptedRecently = await t({
      release: 'd',
      capturedDaysAgo: 130,
      state: { interruptedDaysAgo: 10 },
    });
    const prod = { environmentId: 'Environments-2' };
    const supersededInProd = await t({
      ...prod,
      release: 'e',
      capturedDaysAgo: 110,
      state: { verifiedDaysAgo: 100 },
    });
    const recentInProd = await t({
      ...prod,
      release: 'f',
      capturedDaysAgo: 6,
      state: { verifiedDaysAgo: 5 },
    });
    const liveSoaking = await t({
      release: 'g',
      capturedDaysAgo: 200,
      state: { standingSinceDaysAgo: 100 },
    });
    const activeRunNames = await t({
      release: 'h',
      capturedDaysAgo: 200,
      state: { interruptedDaysAgo: 190 },
    });
    const finishedRunNames = await t({
      release: 'i',
      capturedDaysAgo: 200,
      state: { interruptedDaysAgo: 190 },
    });
    const playbookNames = await t({
      release: 'j',
      capturedDaysAgo: 200,
      state: { interruptedDaysAgo: 190 },
    });
    const removedSet = await t({
      set: 'retired',
      release: 'k',
      capturedDaysAgo: 200,
      state: { interruptedDaysAgo: 190 },
    });
    const acme = { environmentId: 'Environments-2', tenantId: 'Tenants-1' };
    const acmeNewest = await t({
      ...acme,
      release: 'l',
      capturedDaysAgo: 210,
      state: { verifiedDaysAgo: 200 },
    });
    const acmeOlder = await t({
      ...acme,
      release: 'n',
      capturedDaysAgo: 310,
      state: { verifiedDaysAgo: 300 },
    });
    const globexNewest = await t({
      environmentId: 'Environments-2',
      tenantId: 'Tenants-2',
      release: 'm',
      capturedDaysAgo: 110,
      state: { verifiedDaysAgo: 100 },
    });
    const store = new TrainStore(tables);
    const liveKey = liveRowKey('web-stack', 'Environments-1', null);
    expect(
      (
        await store.putLive(
          liveKey,
          {
            set: 'web-stack',
            environment: 'Test',
            environmentId: 'Environments-1',
            tenant: '',
            tenantId: '',
            comboId: liveSoaking,
            trainId: liveSoaking,
            state: 'soaking',
            standingSince: daysAgo(100),
            verifiedAt: '',
            capturedAt: daysAgo(200),
          },
          undefined,
        )
      ).ok,
    ).toBe(true);
    await storeRunNaming(tables, 'run-active', activeRunNames, false);
    await storeRunNaming(tables, 'run-finished', finishedRunNames, true);

    // Without the config it cannot know what playbooks name: nothing goes.
    const blind = pruner(tables, undefined);
    expect(pruned(await blind.prune()).deleted).toMatchObject({ trains: 0 });
    expect(await trainIds(tables)).toHaveLength(14);

    // The next day (the first prune claimed today), with the config.
    blind.clock.set('2026-06-16T00:00:30Z');
    const pass = pruned(
      await pruner(tables, configNaming([playbookNames]), {}, blind.clock).prune(),
    );

    expect(pass).toMatchObject({ complete: true, deleted: { trains: 6 } });
    expect(await trainIds(tables)).toEqual(
      [
        newestVerifiedInTest,
        interruptedRecently,
        recentInProd,
        liveSoaking,
        activeRunNames,
        playbookNames,
        acmeNewest,
        globexNewest,
      ].sort(),
    );
    for (const gone of [
      staleVerified,
      oldInterrupted,
      supersededInProd,
      finishedRunNames,
      removedSet,
      acmeOlder,
    ])
      expect(await trainIds(tables)).not.toContain(gone);
    // The live row itself is never pruned.
    expect((await store.getLive(liveKey))?.trainId).toBe(liveSoaking);
  });

  it('spends the per-poll deletes on trains it deletes, not on the ones it keeps, and continues on the next polls', async () => {
    const tables = tableStoreForTest();
    // Five places, each with an old newest verified train (kept) and an older one (deleted).
    for (let place = 1; place <= 5; place++) {
      const where = { environmentId: `Environments-${place}` };
      await storeTrain(tables, {
        ...where,
        release: `new${place}`,
        capturedDaysAgo: 200,
        state: { verifiedDaysAgo: 190 },
      });
      await storeTrain(tables, {
        ...where,
        release: `old${place}`,
        capturedDaysAgo: 300,
        state: { verifiedDaysAgo: 290 },
      });
    }
    const { clock, prune } = pruner(tables, configNaming([]), { maxDeletesPerPoll: 2 });

    const totals: number[] = [];
    let outcome = await prune();
    while (outcome.kind === 'pruned' && totals.length < 10) {
      totals.push(outcome.pass.deleted.trains ?? 0);
      clock.advance(60_000);
      outcome = await prune();
    }

    expect(totals).toEqual([2, 2, 1]);
    expect(outcome).toEqual({ kind: 'doneToday' });
    const left = await trainIds(tables);
    expect(left).toHaveLength(5);
    for (const id of left)
      expect((await new TrainStore(tables).get('web-stack', id))?.members[0]?.version).toMatch(
        /^new/,
      );
  });
});

describe('GET /api/trains without a set', () => {
  afterAll(() => setRuntime(undefined));

  it('lists the configured sets’ trains, newest first, reading one partition per set and nothing else', async () => {
    const runtime = await azuriteRuntime(configNaming([]));
    setRuntime(runtime);
    const { tables } = runtime;
    const web = [];
    for (const [release, days] of [
      ['w1', 30],
      ['w2', 10],
      ['w3', 20],
    ] as const)
      web.push(
        await storeTrain(tables, {
          release,
          capturedDaysAgo: days,
          state: { verifiedDaysAgo: days - 1 },
        }),
      );
    const data = [];
    for (const [release, days] of [
      ['d1', 15],
      ['d2', 25],
    ] as const)
      data.push(
        await storeTrain(tables, {
          set: 'data',
          release,
          capturedDaysAgo: days,
          state: { standingSinceDaysAgo: days },
        }),
      );
    // A set no longer configured, with many trains: none listed, none read.
    for (let i = 0; i < 40; i += 10)
      await Promise.all(
        Array.from({ length: 10 }, (_, j) =>
          storeTrain(tables, {
            set: 'retired',
            release: `r${i + j}`,
            capturedDaysAgo: 1,
            state: { interruptedDaysAgo: 1 },
          }),
        ),
      );

    const list = async (query: string) => {
      tables.roundTrips.reset();
      const response = (await jsonApi(listTrainsHandler)(
        new HttpRequest({ method: 'GET', url: `http://localhost/api/trains${query}` }),
        new InvocationContext(),
      )) as HttpResponseInit;
      const body = response.jsonBody as { trains: { id: string; set: string }[] };
      return {
        status: response.status ?? 200,
        ids: body.trains.map((t) => t.id),
        roundTrips: tables.roundTrips.count,
      };
    };

    // Newest capture first: w2 (10 days), d1 (15), w3 (20), d2 (25), w1 (30).
    const all = await list('');
    expect(all).toEqual({
      status: 200,
      ids: [web[1], data[0], web[2], data[1], web[0]],
      roundTrips: 2, // one query per configured set
    });
    expect(await list('?limit=2')).toEqual({ status: 200, ids: [web[1], data[0]], roundTrips: 2 });
    expect(await list('?set=data')).toEqual({
      status: 200,
      ids: [data[0], data[1]],
      roundTrips: 1,
    });
  });
});
