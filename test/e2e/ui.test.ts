// The status page in headless Chromium against `npm start` (dev host + simulator's sample scenario):
// it shows the state the status poll recorded, keeps a screenshot, and shows a promotion as it advances.
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium, launchChromium, warnIfNoChromium } from '../helpers/browser.js';
import { azuriteConnectionString } from '../../dev/azurite.js';
import { defaultApiKey as simulatorApiKey } from '../../dev/octopus-sim/server.js';
import {
  cleanEnv,
  startDevHostProcess,
  waitForExit,
  type DevHostProcess,
} from '../helpers/devHostProcess.js';

warnIfNoChromium('status page');

const artifacts = resolve('test-artifacts');
/** As in Azure, the page needs the function key (here set for the whole dev host). */
const functionKey = 'ui-test-function-key';
const keyHeader = { 'x-functions-key': functionKey };

interface StatusJson {
  sets: {
    set: string;
    cells: {
      environment: string;
      tenant: string | null;
      state: string;
      projects: { project: string; release: string | null; state: string | null }[];
    }[];
  }[];
}

async function post(url: string, body: unknown = {}): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...keyHeader },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${url} answered ${res.status}: ${text}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

async function lastPollAt(url: string): Promise<string | null> {
  const status = (await (await fetch(`${url}/api/status`, { headers: keyHeader })).json()) as {
    lastPoll: { at: string } | null;
  };
  return status.lastPoll?.at ?? null;
}

/** Run the status poll now and wait until it has recorded (the admin endpoint answers 202 at once). */
async function runStatusPoll(url: string): Promise<void> {
  const before = await lastPollAt(url);
  const deadline = Date.now() + 20_000;
  let askedAt = 0;
  while (Date.now() < deadline) {
    // Asked again now and then: an occurrence is skipped while the previous poll still runs.
    if (Date.now() - askedAt > 3000) {
      await post(`${url}/admin/functions/statusPoll`);
      askedAt = Date.now();
    }
    await new Promise((r) => setTimeout(r, 150));
    const at = await lastPollAt(url);
    if (at !== null && at !== before) return;
  }
  throw new Error('The status poll did not record a new reading within 20 s');
}

/** `coordinator promote --promotion <name>` against the dev host's storage and simulator, as an operator runs it. */
async function promoteNow(dev: DevHostProcess, simUrl: string, promotion: string): Promise<string> {
  const child = spawn(
    process.execPath,
    [resolve('dist/shared/cli/main.js'), 'promote', '--promotion', promotion],
    {
      env: cleanEnv({
        AzureWebJobsStorage: azuriteConnectionString('127.0.0.1', dev.ports.azurite),
        OCTOPUS_URL: simUrl,
        OCTOPUS_API_KEY: simulatorApiKey,
        COORDINATION_CONFIG: resolve('coordination.example.json'),
        MAIL_OUTBOX_DIR: dev.outboxDir,
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const code = await waitForExit(child);
  if (code !== 0) throw new Error(`coordinator promote exited with ${code}:\n${output}`);
  return output;
}

/** The text of each stage of the run on the page, e.g. ["Backend succeeded", "Announce pending", ...]. */
async function stagesOf(page: Page, runName: string): Promise<string[]> {
  const run = page.locator('details.run', { hasText: runName }).first();
  return run
    .locator('ol.stages > li')
    .evaluateAll((items) =>
      items.map((li) =>
        `${li.querySelector('strong')?.textContent ?? ''} ${li.querySelector(':scope > .badge')?.textContent ?? ''}`.trim(),
      ),
    );
}

describe.skipIf(!haveChromium)('status page (GET /api/ui) in Chromium', () => {
  let dev: DevHostProcess;
  let browser: Browser;
  let simUrl: string;

  beforeAll(async () => {
    [dev, browser] = await Promise.all([
      startDevHostProcess({ args: ['--no-timers'], env: { FUNCTIONS_KEY: functionKey } }),
      launchChromium(),
    ]);
    simUrl = `http://127.0.0.1:${dev.ports.simulator}`;
    await runStatusPoll(dev.url);
    await mkdir(artifacts, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await dev?.stop();
  });

  it('shows every set x environment x tenant the poll recorded, with releases, states and task links; no script runs', async () => {
    const status = (await (
      await fetch(`${dev.url}/api/status`, { headers: keyHeader })
    ).json()) as StatusJson;
    expect((await fetch(`${dev.url}/api/ui`)).status).toBe(401);
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const response = await page.goto(`${dev.url}/api/ui?code=${functionKey}`);
    expect(response?.status()).toBe(200);
    const csp = response?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'none'");
    expect(await page.locator('script').count()).toBe(0);
    expect(await page.locator('meta[http-equiv="refresh"]').getAttribute('content')).toBe('30');

    let cellsChecked = 0;
    for (const set of status.sets) {
      const table = page
        .locator('h3', { hasText: set.set })
        .locator('xpath=following-sibling::div[1]//table');
      const headers = await table.locator('thead th').allInnerTexts();
      for (const cell of set.cells) {
        const column = headers.findIndex(
          (h) =>
            h.startsWith(cell.environment) && (cell.tenant === null || h.includes(cell.tenant)),
        );
        expect(
          column,
          `column for ${set.set} ${cell.environment} ${cell.tenant ?? ''}`,
        ).toBeGreaterThan(0);
        expect(headers[column]).toContain(cell.state === 'complete' ? 'set complete' : cell.state);
        for (const p of cell.projects) {
          const row = table.locator('tbody tr', {
            has: page.locator('th', { hasText: p.project }),
          });
          const text = await row
            .locator('td')
            .nth(column - 1)
            .innerText();
          expect(text).toContain(p.release ?? 'not deployed');
          if (p.state) expect(text).toContain(p.state);
          cellsChecked += 1;
        }
      }
    }
    // The sample scenario: web-stack in Test and Production, billing for two tenants in Production.
    expect(cellsChecked).toBeGreaterThanOrEqual(8);
    const webApiProd = page.locator('h3', { hasText: 'web-stack' });
    expect(await webApiProd.count()).toBe(1);
    const taskLinks = await page
      .locator('table.matrix a')
      .evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
    expect(taskLinks.length).toBeGreaterThan(0);
    for (const href of taskLinks)
      expect(href).toMatch(new RegExp(`^${simUrl}/app#/Spaces-\\d+/tasks/ServerTasks-\\d+$`));

    // Every environment of the set, in lifecycle order: Development too, though no watch names it.
    const webStack = await page
      .locator('h3', { hasText: 'web-stack' })
      .locator('xpath=following-sibling::div[1]//table')
      .locator('thead th')
      .allInnerTexts();
    const columns = webStack.slice(1).map((h) => h.split('\n')[0]?.trim());
    expect(columns).toEqual(['Development', 'Test', 'Production']);
    // Configured promotions with their next slot in their own zone (the example's is Europe/London).
    const promotions = await page.locator('#promotions').innerText();
    expect(promotions).toContain('nightly');
    expect(promotions).toMatch(/\w{3}, \d{1,2} \w{3} \d{4}, 18:00 GMT/);

    await page.screenshot({ path: resolve(artifacts, 'status-page.png'), fullPage: true });
    // On a phone the page itself never scrolls sideways (wide tables scroll in their own box), and
    // the timer jobs and promotions fit without scrolling at all (they stack into cards).
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    const stacked = await page.evaluate(() =>
      Array.from(document.querySelectorAll('#jobs table, #locks table, #promotions table')).map(
        (t) => ({
          id: t.closest('section')?.id ?? '',
          overflow: t.getBoundingClientRect().right - window.innerWidth,
          scroll: (t.parentElement?.scrollWidth ?? 0) - (t.parentElement?.clientWidth ?? 0),
        }),
      ),
    );
    expect(stacked.map((t) => t.id)).toEqual(expect.arrayContaining(['jobs', 'promotions']));
    for (const t of stacked) {
      expect(t.overflow, `${t.id} is wider than the phone`).toBeLessThanOrEqual(0);
      expect(t.scroll, `${t.id} scrolls sideways`).toBeLessThanOrEqual(0);
    }
    await page.screenshot({ path: resolve(artifacts, 'status-page-phone.png'), fullPage: true });
    await page.close();
  });

  it('clamps ?refresh=1 to the minimum instead of answering an error page', async () => {
    const res = await fetch(`${dev.url}/api/ui?refresh=1`, { headers: keyHeader });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<meta http-equiv="refresh" content="5" />');
    expect((await fetch(`${dev.url}/api/ui?refresh=soon`, { headers: keyHeader })).status).toBe(
      400,
    );
  });

  it('shows a promotion stage by stage as it advances, with links to its Octopus tasks', async () => {
    // Long steps, so the first stage is seen running; then an operator starts the nightly promotion now.
    await post(`${simUrl}/_sim/step-duration`, { ms: 600_000 });
    const cli = await promoteNow(dev, simUrl, 'nightly');
    const runId = /Started run (\S+)\./.exec(cli)?.[1] ?? '';
    expect(runId, cli).not.toBe('');

    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.goto(`${dev.url}/api/ui?code=${functionKey}`);
    const inProgress = page.locator('#runs details.run[open]', { hasText: runId });
    expect(await inProgress.count()).toBe(1);
    // Its row says where, why and when, without opening it.
    const summary = await inProgress.locator('summary').innerText();
    expect(summary).toContain('Production');
    expect(summary).toContain('promotion slot');
    expect(summary).toMatch(/started .*ago/);
    expect(await stagesOf(page, runId)).toEqual([
      'Stage 1: Database running',
      'Stage 2: Web API pending',
      'Stage 3: Web App pending',
    ]);
    const links = await inProgress
      .locator('a')
      .evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
    expect(links).toHaveLength(1);
    expect(links[0]).toMatch(new RegExp(`^${simUrl}/app#/Spaces-\\d+/tasks/ServerTasks-\\d+$`));

    // Shorten the steps and move the simulator's clock past the running one; Octopus's events and
    // the status poll advance the run, and the page shows it on a later load.
    await post(`${simUrl}/_sim/step-duration`, { ms: 100 });
    await post(`${simUrl}/_sim/clock`, { action: 'advance', ms: 1_800_000 });
    let stages: string[] = [];
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      await post(`${simUrl}/_sim/webhooks/flush`);
      await runStatusPoll(dev.url);
      await page.reload();
      stages = await stagesOf(page, runId);
      if (stages[0] === 'Stage 1: Database succeeded' && stages[1] !== 'Stage 2: Web API pending')
        break;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(stages[0]).toBe('Stage 1: Database succeeded');
    expect(stages[1]).toMatch(/^Stage 2: Web API (running|succeeded)$/);
    await page.screenshot({
      path: resolve(artifacts, 'status-page-promotion.png'),
      fullPage: true,
    });
    await page.close();
  });
});
