// The report's HTML in headless Chromium: nothing overflows 600 px, failures come first; a screenshot is kept.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium, launchChromium, warnIfNoChromium } from '../helpers/browser.js';
import { dayWindow } from '../../shared/report/dayWindow.js';
import type { ReportDeployment } from '../../shared/report/model.js';
import { renderHtml } from '../../shared/report/renderHtml.js';
import { summarize } from '../../shared/report/summarize.js';

warnIfNoChromium('report');

const artifacts = resolve('test-artifacts');

function sampleReport() {
  const window = dayWindow('2026-10-25', 'Europe/Berlin');
  const start = window.start.getTime();
  const rows: ReportDeployment[] = [];
  const projects = [
    'Web API',
    'Database',
    'Billing Worker',
    'A project with an unusually long name that would push a fixed layout wider than it should be',
  ];
  const environments = ['Development', 'Test', 'Production'];
  for (let i = 0; i < 60; i++) {
    const outcome = i % 11 === 3 ? 'Failed' : i % 17 === 5 ? 'Canceled' : 'Success';
    const completed = start + ((i * 37) % 25) * 3_600_000 + 600_000;
    rows.push({
      space: 'Default',
      deploymentId: `Deployments-${i}`,
      taskId: `ServerTasks-${i}`,
      project: projects[i % projects.length] ?? 'Web API',
      environment: environments[i % environments.length] ?? 'Test',
      environmentOrder: i % environments.length,
      tenant: i % 4 === 2 ? 'Acme Corporation International Holdings (Europe) Limited' : undefined,
      version:
        i % 5 === 0
          ? '2026.10.25-feature-branch-with-a-very-long-prerelease-tag.1234567'
          : `1.${i}.0`,
      outcome,
      state: outcome,
      started: completed - (30 + i * 7) * 1000,
      completed,
      durationMs: (30 + i * 7) * 1000,
      deployedBy: i % 3 === 0 ? 'a.person.with.a.long.username@example-corporation.com' : 'sam.lee',
      error:
        outcome === 'Failed'
          ? 'The deployment failed at Step 2: Apply migrations. Error: relation "customer_invoices_archive_2026" already exists (SQLSTATE 42P07); thisisaverylongtokenwithoutanyspacesthatmustwrapinsteadofoverflowingthesixhundredpixellayout'
          : '',
      taskUrl: `https://octopus.example.com/app#/Spaces-1/tasks/ServerTasks-${i}`,
    });
  }
  return summarize({
    window,
    rows,
    previous: {
      deployments: 50,
      succeeded: 48,
      failed: 2,
      canceled: 0,
      successRate: 0.96,
      medianDurationMs: 90_000,
      longestDurationMs: 400_000,
    },
    scope: 'space Default',
    notes: [],
    octopusCalls: 7,
    generatedAt: new Date('2026-10-26T06:00:00Z'),
  });
}

describe.skipIf(!haveChromium)('daily report in a browser', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('fits 600 px, shows failures before the per-environment tables, and runs no scripts', async () => {
    const html = renderHtml(sampleReport(), {
      maxRows: 40,
      fullReportUrl: 'https://coordinator.example.com/api/reports/daily?date=2026-10-25',
    });
    await mkdir(artifacts, { recursive: true });
    await writeFile(resolve(artifacts, 'daily-report.html'), html);
    const page = await browser.newPage({ viewport: { width: 800, height: 900 } });
    await page.setContent(html, { waitUntil: 'load' });
    await page.screenshot({ path: resolve(artifacts, 'daily-report.png'), fullPage: true });

    const layout = await page.evaluate(() => {
      const report = document.getElementById('report');
      if (!report) return undefined;
      const box = report.getBoundingClientRect();
      const overflowing = Array.from(report.querySelectorAll('*'))
        .filter((el) => {
          const r = el.getBoundingClientRect();
          return (
            r.width > 0 &&
            (r.right > box.left + 600.5 ||
              r.left < box.left - 0.5 ||
              (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflow !== 'visible'))
          );
        })
        .map(
          (el) =>
            `${el.tagName}${el.id ? `#${el.id}` : ''}: ${(el.textContent ?? '').slice(0, 40)}`,
        );
      const top = (id: string) => document.getElementById(id)?.getBoundingClientRect().top ?? -1;
      return {
        width: box.width,
        overflowing,
        pageScrollWidth: document.documentElement.scrollWidth,
        failuresTop: top('failures'),
        chartTop: top('chart'),
        groupsTop: top('by-environment'),
        scripts: document.scripts.length,
        images: document.images.length,
        failureItems: document.querySelectorAll('.failure').length,
      };
    });
    await page.close();

    expect(layout).toBeDefined();
    expect(layout?.width).toBeLessThanOrEqual(600);
    expect(layout?.overflowing).toEqual([]);
    expect(layout?.pageScrollWidth).toBeLessThanOrEqual(800);
    expect(layout?.failuresTop).toBeGreaterThan(0);
    expect(layout?.failuresTop).toBeLessThan(layout?.chartTop ?? 0);
    expect(layout?.chartTop).toBeLessThan(layout?.groupsTop ?? 0);
    expect(layout?.failureItems).toBe(6);
    expect(layout?.scripts).toBe(0);
    expect(layout?.images).toBe(0);
    expect(existsSync(resolve(artifacts, 'daily-report.png'))).toBe(true);
  });
});
