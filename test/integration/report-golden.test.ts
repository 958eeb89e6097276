// The report gathered from the simulator (tasks and deployments paged, names, versions, tenants,
// deployers) and rendered: the full HTML and text and the email's two parts against committed golden
// files, so a change in what gathering keeps of a deployment or in the markup fails here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOctopusSimulator, type OctopusSimulator } from '../../dev/octopus-sim/index.js';
import { ManualClock } from '../../shared/clock.js';
import { createOctopusClient } from '../../shared/octopus/client.js';
import { buildDailyReport, type ReportSources } from '../../shared/report/buildReport.js';
import { EMAIL_LIMITS } from '../../shared/report/dailyReportJob.js';
import type { DailyReport } from '../../shared/report/model.js';
import { renderHtml, renderHtmlChunks } from '../../shared/report/renderHtml.js';
import { renderText, renderTextChunks } from '../../shared/report/renderText.js';
import { expectGolden } from '../helpers/golden.js';
import { reportScenario, reportEnvironments, type DayEntry } from '../helpers/reportDay.js';

const zone = 'Europe/Berlin';
const OCTOPUS = 'https://octopus.golden.test';

/**
 * 2026-11-20 in Berlin is 2026-11-19T23:00Z .. 2026-11-20T23:00Z: 330 deployments in it (failed,
 * timed out, canceled, tenanted), 12 the day before and 3 just after. Times are at odd seconds so
 * the few milliseconds between the scenario's `now` and the simulator's load never cross a minute.
 */
function history(): DayEntry[] {
  const projects = ['Database', 'Web API', 'Billing Worker'];
  const entries: DayEntry[] = [];
  const dayStart = Date.parse('2026-11-19T23:00:00Z');
  const at = (ms: number): string => new Date(ms).toISOString();
  for (let i = 0; i < 330; i++) {
    const project = projects[i % 3] ?? 'Web API';
    entries.push({
      project,
      release: `${(i % 3) + 1}.${(i >> 4) % 6}.${i % 2}`,
      environment: reportEnvironments[(i >> 1) % 3] ?? 'Test',
      ...(project === 'Billing Worker' ? { tenant: i % 2 ? 'Acme Corp' : 'Globex' } : {}),
      ...(i % 11 === 3
        ? { outcome: 'Failed' as const, failAtStep: 1 + (i % 2) }
        : i % 47 === 9
          ? { outcome: 'TimedOut' as const }
          : i % 29 === 7
            ? { outcome: 'Canceled' as const }
            : {}),
      completedAt: at(dayStart + 97_000 + i * 259_000 + (i % 7) * 1_000),
      durationSeconds: 31 + ((i * 53) % 900),
      ...(i % 5 === 0 ? { deployedBy: 'sam.lee' } : {}),
    });
  }
  for (let i = 0; i < 12; i++) {
    entries.push({
      project: projects[i % 3] ?? 'Web API',
      release: '1.0.0',
      environment: 'Test',
      ...(i % 3 === 2 ? { tenant: 'Acme Corp' } : {}),
      ...(i % 4 === 1 ? { outcome: 'Failed' as const } : {}),
      completedAt: at(dayStart - 86_400_000 + 3_601_000 + i * 3_700_000),
      durationSeconds: 45 + i * 10,
    });
  }
  for (let i = 0; i < 3; i++) {
    entries.push({
      project: 'Web API',
      release: '2.0.0',
      environment: 'Production',
      completedAt: at(dayStart + 86_400_000 + 61_000 + i * 60_000),
      durationSeconds: 40,
    });
  }
  return entries;
}

let sim: OctopusSimulator;
let report: DailyReport;

/** The simulator's address (its port varies) as one fixed origin. */
function fixed(text: string): string {
  return text.split(sim.url).join(OCTOPUS);
}

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0, idOffset: 0 });
  sim.loadScenario(reportScenario(history(), sim.now()));
  const client = createOctopusClient({
    url: sim.url,
    apiKey: sim.apiKey,
    space: 'Default',
    maxRetries: 0,
  });
  const sources: ReportSources = {
    clientFor: () => client,
    scope: { spaces: ['Default'], sets: [], projects: [], environments: [] },
    clock: new ManualClock('2026-11-21T06:00:00Z'),
  };
  // Pages of 100: the day's tasks and deployments take several pages each.
  report = await buildDailyReport(sources, '2026-11-20', zone, { pageSize: 100, idsPerCall: 50 });
});

afterAll(async () => {
  await sim?.stop();
});

describe('report gathered from the simulator, golden files', () => {
  it('reads the day in full', () => {
    expect(report.totals.deployments).toBe(330);
    expect(report.previous?.deployments).toBe(12);
    expect(
      report.groups.flatMap((g) => g.projects).some((p) => p.project === 'Billing Worker'),
    ).toBe(true);
  });

  it('renders the full report as committed, whole and chunked', () => {
    const html = renderHtml(report);
    expectGolden('sim-full.html', fixed(html));
    expect([...renderHtmlChunks(report, {}, 50)].join('')).toBe(html);
    const text = renderText(report);
    expectGolden('sim-full.txt', fixed(text));
    expect([...renderTextChunks(report, {}, 50)].join('')).toBe(text);
  });

  it('renders the email as committed', () => {
    const options = {
      ...EMAIL_LIMITS,
      fullReportUrl: 'https://coordinator.example.com/api/reports/daily?date=2026-11-20',
    };
    const html = renderHtml(report, options);
    expect(html).toContain('more deployments are not listed here');
    expectGolden('sim-email.html', fixed(html));
    expectGolden('sim-email.txt', fixed(renderText(report, options)));
  });
});
