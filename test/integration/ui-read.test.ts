// What the status page reads: the set status the poll recorded, runs, locks and job history, from
// Table Storage in a fixed handful of queries, and never from Octopus.
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCoordinationConfig } from '../../shared/config/loadCoordinationConfig.js';
import { recordJobRun } from '../../shared/jobs/jobHistory.js';
import { LeaseLocks } from '../../shared/locks/leaseLock.js';
import { locksTableName } from '../../shared/locks/rows.js';
import type { DashboardItem } from '../../shared/octopus/dashboard.js';
import type { Runtime } from '../../shared/runtime/runtime.js';
import { recordSetStatus } from '../../shared/status/record.js';
import { readStatusPage } from '../../shared/ui/readStatusPage.js';
import { dashboardItem, runtimeWithoutOctopus } from '../helpers/statusReads.js';

let runtime: Runtime;

const deployment = (version: string, state: DashboardItem['State'], n: number) =>
  dashboardItem(n, { ReleaseVersion: version, State: state });

beforeAll(async () => {
  // Nothing answers at its Octopus URL: any Octopus call the page made would fail the read.
  runtime = await runtimeWithoutOctopus(
    parseCoordinationConfig({
      space: 'Default',
      projectSets: { 'web-stack': { projects: ['Database', 'Web API'] } },
      watches: [
        {
          name: 'w',
          set: 'web-stack',
          environments: ['Test', 'Production'],
          recipients: ['a@example.com'],
        },
      ],
    }),
  );
  await recordSetStatus(runtime, {
    takenAt: new Date('2026-11-20T10:05:00Z'),
    spaces: [],
    problems: [],
    octopusCalls: 1,
    cells: [
      {
        set: 'web-stack',
        space: 'Default',
        spaceId: 'Spaces-1',
        environment: 'Production',
        environmentId: 'Environments-2',
        tenant: null,
        state: 'deploying',
        environmentOrder: 1,
        projects: [
          {
            project: 'Database',
            projectId: 'Projects-1',
            current: deployment('1.6.0', 'Success', 1),
            lastSuccessful: undefined,
          },
          {
            project: 'Web API',
            projectId: 'Projects-2',
            current: deployment('2.18.0', 'Executing', 2),
            lastSuccessful: undefined,
          },
        ],
      },
    ],
  });
  // Without Octopus lookups: seeding should not ask whether task ServerTasks-7 has ended.
  const locks = new LeaseLocks({ table: () => runtime.tables.table(locksTableName) });
  await locks.acquire('db-migrations', {
    holder: 'deploy A',
    ttlSeconds: 300,
    octopusTaskId: 'ServerTasks-7',
  });
  await locks.acquire('db-migrations', { holder: 'deploy B' });
  await locks.acquire('db-migrations', { holder: 'deploy C', priority: 0 });
  await recordJobRun(runtime.tables, {
    job: 'scheduledPromotion',
    startedAt: '2026-11-20T10:00:00Z',
    finishedAt: '2026-11-20T10:00:01Z',
    durationMs: 1000,
    outcome: 'ok',
    summary: 'no promotion due',
    instance: 'i-1',
    isPastDue: false,
  });
});

describe('readStatusPage', () => {
  it('reads sets, the live trains, runs, locks and their forced releases, job history and freezes in seven storage queries and no Octopus call', async () => {
    await readStatusPage(runtime, { refreshSeconds: 30 }); // creates the tables once per process
    const octopusBefore = runtime.octopus?.calls.total ?? 0;
    runtime.tables.roundTrips.reset();
    const model = await readStatusPage(runtime, { refreshSeconds: 30 });
    // sets, live trains, runs, locks, forced releases (lock history), job history, freezes in force
    expect(runtime.tables.roundTrips.count).toBe(7);
    expect(runtime.octopus?.calls.total ?? 0).toBe(octopusBefore);

    expect(model.sets.ok && model.sets.value.sets[0]?.cells).toEqual([
      expect.objectContaining({
        environment: 'Production',
        state: 'deploying',
        projects: [
          expect.objectContaining({ project: 'Database', release: '1.6.0', state: 'Success' }),
          expect.objectContaining({
            project: 'Web API',
            release: '2.18.0',
            state: 'Executing',
            taskUrl: 'http://127.0.0.1:9/app#/Spaces-1/tasks/ServerTasks-2',
          }),
        ],
      }),
    ]);
    expect(model.jobs.ok && model.jobs.value.map((j) => [j.job, j.outcome])).toEqual([
      ['scheduledPromotion', 'ok'],
    ]);
    expect(model.runs).toEqual({ ok: true, value: { active: [], recent: [], notShown: 0 } });
  });

  it('shows each lock with its holder, fence and task link, and its waiters in order with why each waits', async () => {
    const model = await readStatusPage(runtime, { refreshSeconds: 30 });
    expect(model.locks.ok).toBe(true);
    const lock = model.locks.ok
      ? model.locks.value.find((l) => l.name === 'db-migrations')
      : undefined;
    expect(lock?.permits).toBe(1);
    expect(lock?.lastFence).toBe(1);
    expect(lock?.holders).toEqual([
      expect.objectContaining({
        holder: 'deploy A',
        fence: 1,
        expired: false,
        octopusTaskId: 'ServerTasks-7',
        taskUrl: 'http://127.0.0.1:9/app#/Spaces-1/tasks/ServerTasks-7',
      }),
    ]);
    expect(lock?.waiters.map((w) => [w.position, w.holder, w.why])).toEqual([
      [1, 'deploy B', '1 of 1 permit(s) held by deploy A; it is next in line'],
      [2, 'deploy C', '1 of 1 permit(s) held by deploy A; 1 waiter(s) ahead of it'],
    ]);
  });
});
