// The daily report's content against a scripted simulator history: failures, tenants, DST, an empty day.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOctopusSimulator, type OctopusSimulator } from '../../dev/octopus-sim/index.js';
import { ManualClock } from '../../shared/clock.js';
import { createOctopusClient, type OctopusClient } from '../../shared/octopus/client.js';
import { buildDailyReport, type ReportSources } from '../../shared/report/buildReport.js';
import type { ReportScope } from '../../shared/report/gather.js';
import { renderHtml } from '../../shared/report/renderHtml.js';
import { renderText } from '../../shared/report/renderText.js';
import { reportScenario, type DayEntry } from '../helpers/reportDay.js';

const zone = 'Europe/Berlin';

// 2026-11-20 in Berlin is 2026-11-19T23:00Z .. 2026-11-20T23:00Z.
const day: DayEntry[] = [
  {
    project: 'Web API',
    release: '2.4.0',
    environment: 'Test',
    completedAt: '2026-11-20T06:10:00Z',
    durationSeconds: 90,
    deployedBy: 'sam.lee',
  },
  {
    project: 'Web API',
    release: '2.4.0',
    environment: 'Production',
    completedAt: '2026-11-20T09:30:00Z',
    durationSeconds: 300,
    deployedBy: 'sam.lee',
  },
  {
    project: 'Database',
    release: '7.1.0',
    environment: 'Production',
    outcome: 'Failed',
    failAtStep: 2,
    completedAt: '2026-11-20T10:05:00Z',
    durationSeconds: 120,
    deployedBy: 'priya.shah',
  },
  {
    project: 'Billing Worker',
    release: '3.0.1',
    environment: 'Production',
    tenant: 'Acme Corp',
    outcome: 'Failed',
    completedAt: '2026-11-20T14:45:00Z',
    durationSeconds: 60,
    deployedBy: 'alex.morgan',
  },
  {
    project: 'Billing Worker',
    release: '3.0.1',
    environment: 'Production',
    tenant: 'Globex',
    completedAt: '2026-11-20T14:50:00Z',
    durationSeconds: 30,
  },
  {
    project: 'Web API',
    release: '2.4.1',
    environment: 'Development',
    outcome: 'Canceled',
    completedAt: '2026-11-20T16:00:00Z',
    durationSeconds: 40,
  },
  // 23:30 local on the 19th and 00:30 local on the 21st: outside the day.
  {
    project: 'Web API',
    release: '2.3.9',
    environment: 'Test',
    completedAt: '2026-11-19T22:30:00Z',
    durationSeconds: 50,
  },
  {
    project: 'Web API',
    release: '2.4.1',
    environment: 'Test',
    completedAt: '2026-11-20T23:30:00Z',
    durationSeconds: 50,
  },
  // The day before (19th): these two and the 23:30 one above, all succeeded.
  {
    project: 'Database',
    release: '7.0.9',
    environment: 'Test',
    completedAt: '2026-11-19T08:00:00Z',
    durationSeconds: 100,
  },
  {
    project: 'Database',
    release: '7.0.9',
    environment: 'Production',
    completedAt: '2026-11-19T12:00:00Z',
    durationSeconds: 200,
  },
  // 2026-10-25: clocks go back in Berlin; the local day is 2026-10-24T22:00Z .. 2026-10-25T23:00Z (25 hours).
  {
    project: 'Web API',
    release: '2.3.0',
    environment: 'Test',
    completedAt: '2026-10-24T22:20:00Z',
    durationSeconds: 60,
  },
  {
    project: 'Web API',
    release: '2.3.0',
    environment: 'Production',
    completedAt: '2026-10-25T00:30:00Z',
    durationSeconds: 60,
  },
  {
    project: 'Web API',
    release: '2.3.0',
    environment: 'Production',
    completedAt: '2026-10-25T01:30:00Z',
    durationSeconds: 60,
  },
  {
    project: 'Database',
    release: '7.0.0',
    environment: 'Test',
    outcome: 'Failed',
    completedAt: '2026-10-25T22:40:00Z',
    durationSeconds: 60,
  },
  // Just outside the DST day on both sides.
  {
    project: 'Web API',
    release: '2.3.0',
    environment: 'Development',
    completedAt: '2026-10-24T21:40:00Z',
    durationSeconds: 60,
  },
  {
    project: 'Web API',
    release: '2.3.0',
    environment: 'Development',
    completedAt: '2026-10-25T23:20:00Z',
    durationSeconds: 60,
  },
];

let sim: OctopusSimulator;
let client: OctopusClient;
let sources: ReportSources;

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0 });
  sim.loadScenario(reportScenario(day, sim.now()));
  client = createOctopusClient({
    url: sim.url,
    apiKey: sim.apiKey,
    space: 'Default',
    maxRetries: 0,
  });
  const scope: ReportScope = { spaces: ['Default'], sets: [], projects: [], environments: [] };
  sources = { clientFor: () => client, scope, clock: new ManualClock('2026-11-21T06:00:00Z') };
});

afterAll(async () => {
  await sim?.stop();
});

describe('daily report content', () => {
  it('counts the local day only, with totals, median, longest and the change against the day before', async () => {
    const report = await buildDailyReport(sources, '2026-11-20', zone);
    expect(report.window.hours).toBe(24);
    expect(report.totals).toMatchObject({ deployments: 6, succeeded: 3, failed: 2, canceled: 1 });
    expect(report.totals.successRate).toBeCloseTo(0.5);
    expect(report.totals.longestDurationMs).toBeGreaterThanOrEqual(297_000);
    expect(report.totals.medianDurationMs).toBeGreaterThan(30_000);
    // The 19th: two at noon and the one at 23:30 local.
    expect(report.previous).toMatchObject({ deployments: 3, succeeded: 3, failed: 0 });
    const text = renderText(report);
    expect(text).toContain('Deployments:     6 (+3 vs day before)');
    expect(text).toContain('Failed:          2 (+2 vs day before)');
  });

  it('lists failures first with project, environment, tenant, version, error, who and a task link', async () => {
    const report = await buildDailyReport(sources, '2026-11-20', zone, { previous: 'skip' });
    expect(
      report.failures.map((f) => [f.project, f.environment, f.tenant, f.version, f.deployedBy]),
    ).toEqual([
      ['Billing Worker', 'Production', 'Acme Corp', '3.0.1', 'alex.morgan'],
      ['Database', 'Production', undefined, '7.1.0', 'priya.shah'],
    ]);
    const database = report.failures[1];
    expect(database?.error).toContain('Apply migrations');
    expect(database?.taskUrl).toMatch(
      new RegExp(`^${sim.url}/app#/Spaces-\\d+/tasks/ServerTasks-\\d+$`),
    );
    const text = renderText(report);
    expect(text.indexOf('FAILURES')).toBeLessThan(text.indexOf('BY ENVIRONMENT'));
    const html = renderHtml(report);
    expect(html.indexOf('id="failures"')).toBeLessThan(html.indexOf('id="by-environment"'));
    expect(html).toContain('Acme Corp');
    expect(html).not.toMatch(/<script|<img/i);
    // Environments in Octopus's order, projects alphabetical.
    expect(report.groups.map((g) => g.environment)).toEqual(['Development', 'Test', 'Production']);
    expect(report.groups[2]?.projects.map((p) => p.project)).toEqual([
      'Billing Worker',
      'Database',
      'Web API',
    ]);
    // Started times are local (Berlin is UTC+1 in November): Web API to Test finished 06:10Z after 90 s.
    expect(text).toContain('2.4.0 · 07:08 · 1 min 28 s · sam.lee · Succeeded');
  });

  it('covers 25 hours on the day clocks go back, including both edges', async () => {
    const report = await buildDailyReport(sources, '2026-10-25', zone);
    expect(report.window.hours).toBe(25);
    expect(report.hours).toHaveLength(25);
    expect(report.hours.map((h) => h.label).filter((l) => l === '02')).toHaveLength(2);
    expect(report.totals).toMatchObject({ deployments: 4, succeeded: 3, failed: 1 });
    expect(report.hours[0]?.succeeded).toBe(1); // 00:20 local
    expect(report.hours[24]?.failed).toBe(1); // 23:40 local
    expect(renderText(report)).toContain('25 hours (clocks changed)');
  });

  it('says plainly when a day had no deployments', async () => {
    const report = await buildDailyReport(sources, '2026-11-18', zone);
    expect(report.totals.deployments).toBe(0);
    expect(report.failures).toEqual([]);
    expect(renderText(report)).toContain(
      'No deployments finished on Wednesday, 18 November 2026 (Europe/Berlin)',
    );
    expect(renderHtml(report)).toContain('No deployments finished on Wednesday, 18 November 2026');
  });

  it('limits the report to the configured sets and environments', async () => {
    const scoped: ReportSources = {
      ...sources,
      scope: {
        spaces: ['Default'],
        sets: ['billing'],
        projects: ['Billing Worker', 'No Such Project'],
        environments: ['Production'],
      },
    };
    const report = await buildDailyReport(scoped, '2026-11-20', zone, { previous: 'skip' });
    expect(report.totals.deployments).toBe(2);
    expect(report.groups.map((g) => g.environment)).toEqual(['Production']);
    expect(report.notes.join(' ')).toContain('"No Such Project"');
  });

  it('reads the day in a handful of calls, never one per deployment', async () => {
    const before = client.calls.total;
    await buildDailyReport(sources, '2026-11-20', zone, { previous: 'skip' });
    // tasks page + deployments batch + releases batch + projects/environments/tenants /all
    expect(client.calls.total - before).toBeLessThanOrEqual(6);
  });
});
