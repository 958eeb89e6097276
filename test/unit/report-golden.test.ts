// The report's bytes against committed golden files: the full HTML and text, and the email's HTML and
// text parts (capped by EMAIL_LIMITS, and by a small row/failure cap), of one generated day. A change
// of markup or wording fails here; regenerate deliberately with UPDATE_GOLDEN=1 and review the diff.
import { describe, expect, it } from 'vitest';
import { EMAIL_LIMITS } from '../../shared/report/dailyReportJob.js';
import { dayWindow } from '../../shared/report/dayWindow.js';
import type { Outcome, ReportDeployment } from '../../shared/report/model.js';
import { renderHtml, renderHtmlChunks } from '../../shared/report/renderHtml.js';
import { renderText, renderTextChunks } from '../../shared/report/renderText.js';
import { summarize } from '../../shared/report/summarize.js';
import { expectGolden } from '../helpers/golden.js';

// Berlin in November (UTC+1): local times differ from UTC.
const window = dayWindow('2026-11-20', 'Europe/Berlin');
const environments = ['Development', 'Test', 'Staging', 'Production'];
const users = ['sam.lee', 'priya.shah', 'alex.morgan', 'Zoë <ops> & "deploy"'];

/**
 * 640 deployments: 14 projects (3 tenanted, 5 tenants) in 4 environments, failures, time-outs,
 * cancels and other states, rows without a version, a start, a tenant or a task link, text to
 * escape, long errors; enough that the email's byte cap cuts the rows and the failure list.
 */
function goldenDay() {
  const start = window.start.getTime();
  const rows: ReportDeployment[] = Array.from({ length: 640 }, (_, i) => {
    const p = (i * 7) % 14;
    const outcome: Outcome =
      i % 9 === 4
        ? 'Failed'
        : i % 53 === 11
          ? 'TimedOut'
          : i % 31 === 5
            ? 'Canceled'
            : i % 97 === 13
              ? 'Other'
              : 'Success';
    const completed = start + 45_000 + Math.floor((i * 86_000_000) / 640) + (i % 13) * 1_000;
    const durationMs = 17_000 + ((i * 7_919) % 3_700_000);
    const started = i % 41 === 0 ? undefined : completed - durationMs;
    return {
      space: 'Default',
      deploymentId: `Deployments-${1000 + i}`,
      taskId: `ServerTasks-${5000 + i}`,
      project: p === 13 ? 'Payments & <Ledger>' : `Service ${String(p + 1).padStart(2, '0')}`,
      environment: environments[(i >> 2) % environments.length] ?? 'Test',
      environmentOrder: (i >> 2) % environments.length,
      tenant: p < 3 ? `Customer ${(i % 5) + 1}` : undefined,
      version: i % 37 === 0 ? '' : `1.${(i >> 3) % 10}.${i % 4}`,
      outcome,
      state: outcome === 'Other' ? 'Cancelling' : outcome,
      started,
      completed,
      durationMs: started === undefined ? undefined : durationMs,
      deployedBy: users[i % users.length] ?? 'unknown',
      error:
        outcome === 'Success'
          ? ''
          : i % 27 === 4
            ? ''
            : `The deployment failed at Step "Deploy ${i % 3}": exit code ${i % 5} <stderr> & ${'more '.repeat(i % 11)}`.trim(),
      taskUrl:
        i % 19 === 0
          ? undefined
          : `https://octopus.example/app#/Spaces-1/tasks/ServerTasks-${5000 + i}`,
    };
  });
  return summarize({
    window,
    rows,
    previous: {
      deployments: 655,
      succeeded: 600,
      failed: 40,
      canceled: 15,
      successRate: 600 / 655,
      medianDurationMs: 1_800_000,
      longestDurationMs: 3_500_000,
    },
    scope: 'space Default; sets web-stack',
    notes: ['The project "Gone" named in the report scope does not exist in space Default.'],
    octopusCalls: 9,
    generatedAt: new Date('2026-11-21T06:00:00Z'),
  });
}

const link = 'https://coordinator.example.com/api/reports/daily?date=2026-11-20&code=a&b';

describe('report golden files', () => {
  const report = goldenDay();

  it('renders the full report (HTML and text) as committed, whole and chunked', () => {
    const html = renderHtml(report);
    expectGolden('full.html', html);
    expect([...renderHtmlChunks(report)].join('')).toBe(html);
    const text = renderText(report);
    expectGolden('full.txt', text);
    expect([...renderTextChunks(report)].join('')).toBe(text);
  });

  it('renders the email (byte cap) as committed, the cap cutting failures and rows', () => {
    const options = { ...EMAIL_LIMITS, fullReportUrl: link };
    const html = renderHtml(report, options);
    const text = renderText(report, options);
    expect(html).toContain('more deployments are not listed here');
    expect(html).toContain('more failures are not listed here');
    expect(Buffer.byteLength(html)).toBeLessThanOrEqual(EMAIL_LIMITS.maxBytes);
    expectGolden('email.html', html);
    expectGolden('email.txt', text);
  });

  it('renders a tight byte cap as committed, leaving whole projects out', () => {
    const options = { ...EMAIL_LIMITS, maxBytes: 24 * 1024, fullReportUrl: link };
    const html = renderHtml(report, options);
    expect(html).toContain('not shown at all');
    expectGolden('bytecap.html', html);
    expectGolden('bytecap.txt', renderText(report, options));
  });

  it('renders a small row and failure cap as committed', () => {
    const options = { maxRows: 25, maxFailures: 3 };
    expectGolden('capped.html', renderHtml(report, options));
    expectGolden('capped.txt', renderText(report, options));
  });

  it('renders an empty day as committed', () => {
    const empty = summarize({
      window,
      rows: [],
      previous: undefined,
      scope: 'space Default',
      notes: [],
      octopusCalls: 3,
      generatedAt: new Date('2026-11-21T06:00:00Z'),
    });
    expectGolden('empty.html', renderHtml(empty));
    expectGolden('empty.txt', renderText(empty));
  });
});
