// How the daily report joins tasks with the paged deployments list: deployments scheduled long before
// they ran (read by id), a report for an earlier date (paging skips the days after), scoped reports.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOctopusSimulator, type OctopusSimulator } from '../../dev/octopus-sim/index.js';
import { ManualClock } from '../../shared/clock.js';
import { createOctopusClient, type OctopusClient } from '../../shared/octopus/client.js';
import { buildDailyReport, type ReportSources } from '../../shared/report/buildReport.js';
import { localDateOf } from '../../shared/time/zones.js';
import type { ReportScope } from '../../shared/report/gather.js';
import { reportScenario } from '../helpers/reportDay.js';

const zone = 'UTC';
const HOUR = 3_600_000;

let sim: OctopusSimulator;
let client: OctopusClient;
let day = '';
let laterDay = '';

function sources(scope: Partial<ReportScope> = {}): ReportSources {
  return {
    clientFor: () => client,
    scope: { spaces: ['Default'], sets: [], projects: [], environments: [], ...scope },
    clock: new ManualClock(new Date(sim.now()).toISOString()),
  };
}

async function deploy(
  project: string,
  version: string,
  environment: string,
  queueTime?: Date,
): Promise<void> {
  const [projects, environments] = await Promise.all([
    client.projects.all(),
    client.environments.all(),
  ]);
  const projectId = projects.find((p) => p.Name === project)?.Id ?? '';
  const release = await client.releases.byVersion(projectId, version);
  await client.deployments.create({
    ProjectId: projectId,
    ReleaseId: release?.Id ?? '',
    EnvironmentId: environments.find((e) => e.Name === environment)?.Id ?? '',
    QueueTime: queueTime ?? null,
  });
}

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0 });
  sim.loadScenario(
    reportScenario(
      [
        {
          project: 'Web API',
          release: '2.4.0',
          environment: 'Test',
          completedAt: new Date(sim.now() - 48 * HOUR).toISOString(),
          durationSeconds: 60,
        },
        {
          project: 'Database',
          release: '7.1.0',
          environment: 'Test',
          completedAt: new Date(sim.now() - 47 * HOUR).toISOString(),
          durationSeconds: 60,
        },
      ],
      sim.now(),
    ),
  );
  sim.clock({ action: 'pause' });
  // Start at 01:00 UTC of the next day, so the whole script stays inside one UTC day.
  const now = sim.now();
  sim.clock({ action: 'advance', ms: Math.ceil(now / (24 * HOUR)) * 24 * HOUR + HOUR - now });
  client = createOctopusClient({
    url: sim.url,
    apiKey: sim.apiKey,
    space: 'Default',
    maxRetries: 0,
  });
  day = localDateOf(sim.now(), zone);
  // Scheduled at 01:00 for 04:00; six more are created (and run) after it.
  await deploy('Database', '7.1.0', 'Production', new Date(sim.now() + 3 * HOUR));
  sim.clock({ action: 'advance', ms: 10 * 60_000 });
  for (let i = 0; i < 3; i++) {
    await deploy('Web API', '2.4.0', 'Production');
    await deploy('Web API', '2.4.0', 'Development');
  }
  sim.clock({ action: 'advance', ms: 5 * HOUR });
  // The next day: twenty more, so that day's deployments sit in front of the first day's in the list.
  sim.clock({ action: 'advance', ms: 24 * HOUR });
  laterDay = localDateOf(sim.now(), zone);
  for (let i = 0; i < 10; i++) {
    await deploy('Web API', '2.4.0', 'Test');
    await deploy('Database', '7.1.0', 'Development');
  }
  sim.clock({ action: 'advance', ms: 5 * HOUR });
});

afterAll(async () => {
  await sim?.stop();
});

describe('daily report gathering', () => {
  it('reads a deployment scheduled hours before it ran, and skips the later day in the list', async () => {
    const before = client.calls.total;
    const report = await buildDailyReport(sources(), day, zone, {
      previous: 'skip',
      pageSize: 2,
      idsPerCall: 5,
    });
    const calls = client.calls.total - before;
    expect(report.totals.deployments).toBe(7);
    expect(report.notes.join(' ')).not.toContain('could not be read');
    const rows = report.groups.flatMap((g) =>
      g.projects.flatMap((p) => p.deployments.map((d) => [d.project, d.environment, d.version])),
    );
    expect(rows).toContainEqual(['Database', 'Production', '7.1.0']);
    expect(rows.filter(([p]) => p === 'Web API')).toHaveLength(6);
    expect(
      rows.every(([, environment, version]) => !/-\d+$/.test(`${environment}${version}`)),
    ).toBe(true);
    // 4 task pages and 1 task count, 4 deployments pages (1 of the later day, 3 of the day), 1 by id
    // (the scheduled one), 1 dashboard (release versions included): 11. Reading through the later
    // day's 20 deployments two at a time would take 10 more pages.
    expect(calls).toBeLessThanOrEqual(12);
  });

  it('reads the later day and the day before it for the change', async () => {
    const report = await buildDailyReport(sources(), laterDay, zone, { pageSize: 3 });
    expect(report.totals.deployments).toBe(20);
    expect(report.previous?.deployments).toBe(7);
    expect(report.groups.map((g) => g.environment)).toEqual(['Development', 'Test']);
  });

  it('keeps a scoped report to its environments and projects', async () => {
    const report = await buildDailyReport(
      sources({ sets: ['db'], projects: ['Database'], environments: ['Production'] }),
      day,
      zone,
      { previous: 'skip', pageSize: 2 },
    );
    expect(report.totals.deployments).toBe(1);
    expect(report.failures).toEqual([]);
    expect(report.groups.map((g) => [g.environment, g.projects.map((p) => p.project)])).toEqual([
      ['Production', ['Database']],
    ]);
  });
});
