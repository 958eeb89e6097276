// Row caps: both parts of the email list the same deployments and say how many were left out.
import { describe, expect, it } from 'vitest';
import { capRows } from '../../shared/report/format.js';
import type { ReportDeployment } from '../../shared/report/model.js';
import { renderHtml } from '../../shared/report/renderHtml.js';
import { renderText } from '../../shared/report/renderText.js';
import { summarize } from '../../shared/report/summarize.js';
import { dayWindow } from '../../shared/report/dayWindow.js';

const window = dayWindow('2026-11-20', 'UTC');

function day(n: number) {
  const rows: ReportDeployment[] = Array.from({ length: n }, (_, i) => ({
    space: 'Default',
    deploymentId: `Deployments-${i}`,
    taskId: `ServerTasks-${i}`,
    project: i % 2 ? 'Web API' : 'Database',
    environment: 'Test',
    environmentOrder: 1,
    tenant: undefined,
    version: `1.${i}.0`,
    outcome: 'Success',
    state: 'Success',
    started: window.start.getTime() + i * 60_000,
    completed: window.start.getTime() + i * 60_000 + 30_000,
    durationMs: 30_000,
    deployedBy: 'sam',
    error: '',
    taskUrl: undefined,
  }));
  return summarize({
    window,
    rows,
    previous: undefined,
    scope: 'space Default',
    notes: [],
    octopusCalls: 1,
    generatedAt: new Date('2026-11-21T07:00:00Z'),
  });
}

describe('report row caps', () => {
  it('lists at most maxRows deployments, in report order, and counts the rest', () => {
    const report = day(10);
    const { listed, omitted } = capRows(report.groups, 7);
    const projects = report.groups.flatMap((g) => g.projects);
    expect(projects.map((p) => listed(p).length)).toEqual([5, 2]);
    expect(omitted).toBe(3);
    expect(capRows(report.groups).omitted).toBe(0);
  });

  it('makes the HTML and the text part say the same', () => {
    const report = day(10);
    const options = {
      maxRows: 7,
      fullReportUrl: 'https://coordinator.example/api/reports/daily?date=2026-11-20',
    };
    expect(renderText(report, options)).toContain('3 more deployments are not listed');
    expect(renderHtml(report, options)).toContain('3 more deployments are not listed');
    const listedVersions = (text: string) => [...text.matchAll(/1\.(\d+)\.0/g)].length;
    expect(listedVersions(renderText(report, options))).toBe(
      listedVersions(renderHtml(report, options)),
    );
  });
});
