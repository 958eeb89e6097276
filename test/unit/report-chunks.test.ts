// The full report rendered as chunks: the same bytes as the one-string render, rows a batch at a time.
import { describe, expect, it } from 'vitest';
import { dayWindow } from '../../shared/report/dayWindow.js';
import type { Outcome, ReportDeployment } from '../../shared/report/model.js';
import { renderHtml, renderHtmlChunks } from '../../shared/report/renderHtml.js';
import { summarize } from '../../shared/report/summarize.js';

const window = dayWindow('2026-11-20', 'Europe/Berlin');
const outcomes: Outcome[] = ['Success', 'Failed', 'TimedOut', 'Canceled', 'Other'];

/** A day of `n` rows with every kind of cell: no tenant, no version, no start, errors to escape. */
function day(n: number, notes: string[] = []) {
  const rows: ReportDeployment[] = Array.from({ length: n }, (_, i) => {
    const outcome = outcomes[i % 7 === 3 ? 1 + (i % 4) : 0] ?? 'Success';
    return {
      space: 'Default',
      deploymentId: `Deployments-${i}`,
      taskId: `ServerTasks-${i}`,
      project: `Service ${i % 13}`,
      environment: ['Development', 'Test', 'Production'][i % 3] ?? 'Test',
      environmentOrder: i % 3,
      tenant: i % 5 === 0 ? `Customer ${i % 4}` : undefined,
      version: i % 17 === 0 ? '' : `1.${i % 9}.${i}`,
      outcome,
      state: outcome === 'Other' ? 'Cancelling' : outcome,
      started: i % 11 === 0 ? undefined : window.start.getTime() + i * 1_000,
      completed: window.start.getTime() + i * 1_000 + 30_000,
      durationMs: i % 11 === 0 ? undefined : 30_000 + i,
      deployedBy: i % 2 ? 'sam' : 'Zoë <ops> & "deploy"',
      error: outcome === 'Failed' ? `Step "Deploy" failed: exit code ${i} <stderr> & more` : '',
      taskUrl:
        i % 6 === 0
          ? undefined
          : `https://octopus.example/app#/Spaces-1/tasks/ServerTasks-${i}?a=1&b=2`,
    };
  });
  return summarize({
    window,
    rows,
    previous: {
      deployments: n + 1,
      succeeded: n,
      failed: 1,
      canceled: 0,
      successRate: 0.99,
      medianDurationMs: 30_000,
      longestDurationMs: 60_000,
    },
    scope: 'space Default',
    notes,
    octopusCalls: 7,
    generatedAt: new Date('2026-11-21T07:00:00Z'),
  });
}

describe('renderHtmlChunks', () => {
  it('joins to the same document as renderHtml at any batch size', () => {
    for (const n of [0, 1, 7, 500, 2_345]) {
      const report = day(n, n === 7 ? ['Project "Gone" is not in Octopus.'] : []);
      const whole = renderHtml(report);
      for (const batch of [1, 3, 500, Number.POSITIVE_INFINITY]) {
        expect([...renderHtmlChunks(report, {}, batch)].join(''), `${n} rows by ${batch}`).toBe(
          whole,
        );
      }
    }
  });

  it('renders a batch of rows per chunk, so no chunk holds the page', () => {
    const report = day(2_345);
    const chunks = [...renderHtmlChunks(report, {}, 100)];
    // 2,345 rows and their failures, 100 a chunk (counted together), plus the last.
    const listed = report.totals.deployments + report.failures.length;
    expect(chunks.length).toBe(Math.floor(listed / 100) + 1);
    const whole = renderHtml(report).length;
    for (const chunk of chunks) expect(chunk.length).toBeLessThan(whole / 10);
  });

  it('keeps the email (capped) render as it was', () => {
    const report = day(2_345);
    const options = { maxRows: 50, maxFailures: 5, fullReportUrl: 'https://c.example/r?a=1&b=2' };
    expect([...renderHtmlChunks(report, options, 10)].join('')).toBe(renderHtml(report, options));
  });
});
