// Every kind of email the coordinator sends, rendered in headless Chromium at desktop and phone
// width: a whole styled document (no serif default font), nothing wider than the screen, times in
// the configured zone, links to the run or status page. Screenshots, .html and .eml files are kept.
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCoordinationConfigText } from '../../shared/config/loadCoordinationConfig.js';
import type { MailMessage } from '../../shared/mail/mailer.js';
import { toEml } from '../../shared/mail/outboxMailer.js';
import { promotionMail } from '../../shared/promotion/schedule.js';
import { notifyMail, runFinishedMail } from '../../shared/runs/mail.js';
import { approvalRequestMail } from '../../shared/runs/approvalMail.js';
import type { PlanApproval } from '../../shared/runs/types.js';
import { newRunState } from '../../shared/runs/newRun.js';
import { planFromPlaybook } from '../../shared/runs/plan.js';
import { watchMessage } from '../../shared/watches/message.js';
import type { WatchNotice } from '../../shared/watches/evaluate.js';
import { haveChromium, launchChromium, warnIfNoChromium } from '../helpers/browser.js';

warnIfNoChromium('email');

const artifacts = resolve('test-artifacts', 'emails');
const publicUrl = 'https://coordinator.example.com';
const timeZone = 'Europe/Berlin';
const config = parseCoordinationConfigText(
  readFileSync('coordination.example.json', 'utf8'),
  'example',
);

function watchNotice(kind: WatchNotice['kind']): WatchNotice {
  const watch = config.watches[0];
  if (!watch) throw new Error('the example has a watch');
  const release = (project: string, version: string, n: number, state = 'Success') => ({
    project,
    tenant: null,
    version,
    releaseId: `Releases-${n}`,
    deploymentId: `Deployments-${n}`,
    taskId: `ServerTasks-${n}`,
    state,
    completedTime: `2026-11-20T1${n}:04:00.000Z`,
    errorMessage:
      state === 'Failed'
        ? 'The step failed: relation "customer_invoices_archive_2026_with_a_long_name" already exists (SQLSTATE 42P07)'
        : null,
  });
  return {
    watch,
    kind,
    set: 'web-stack',
    spaceId: 'Spaces-1',
    environment: 'Production',
    tenant: null,
    releases:
      kind === 'live'
        ? [
            release('Database', '1.6.0', 1),
            release('Web API', '2.18.0-feature-branch-with-a-very-long-prerelease-tag.1234', 2),
            release('Web App', '3.1.0', 3),
          ]
        : [release('Web App', '3.1.0', 4, 'Failed')],
    claimKey: 'k',
  };
}

function runMails(): Record<string, MailMessage> {
  const plan = planFromPlaybook(config, 'release-web-stack', { environment: 'Production' });
  const run = newRunState(
    'run-2026-11-20-abc',
    plan,
    { kind: 'api', by: 'sam.lee' },
    new Date('2026-11-20T09:00:00Z'),
  );
  const failed = structuredClone(run);
  failed.status = 'failed';
  failed.finishedAt = '2026-11-20T09:12:00.000Z';
  failed.failure = {
    stage: 'Frontend',
    actionId: 'web',
    message:
      'web (deploy Web App to Production): The deployment failed at Step 2: Apply migrations',
  };
  failed.stages.forEach((s, i) => (s.status = i < 2 ? 'succeeded' : 'failed'));
  failed.onFailure.status = 'succeeded';
  const finished = runFinishedMail(failed, { timeZone, publicUrl });
  const notify = notifyMail(
    run,
    { timeZone, publicUrl },
    {
      subject: 'Database and Web API are deployed to Production',
      text: `Releases: Database 1.6.0, Web API 2.18.0.\nRun ${run.id}: ${publicUrl}/api/runs/${run.id}\n\nRun ${run.id} of playbook "release-web-stack": running.\nStage "Backend": succeeded\n  - deploy Database to Production 1.6.0: succeeded`,
    },
  );
  const to = ['release-managers@example.com'];
  // An approval in front of the playbook's stages: its request email, and a final email with decisions.
  const spec: PlanApproval = {
    type: 'approval',
    id: 'go',
    approvers: ['ana.a.person.with.a.long.name@example-corporation.com', 'ben@example.com'],
    minApprovals: 1,
    timeoutMinutes: 240,
  };
  const gated = newRunState(
    'run-2026-11-20-def',
    { ...plan, stages: [{ name: 'Approval', actions: [spec] }, ...plan.stages] },
    { kind: 'api', by: 'sam.lee' },
    new Date('2026-11-20T09:00:00Z'),
  );
  const round = {
    n: 2,
    fingerprint: '7f7d864433824f60',
    requestedAt: '2026-11-20T09:05:00.000Z',
    expiresAt: '2026-11-20T13:05:00.000Z',
    reason:
      'the plan changed after it was approved: Database in Production is now 1.6.1 instead of 1.6.0',
    mails: [],
    items: [
      ['Backend', 'db', 'Database', '1.6.1'],
      ['Backend', 'api', 'Web API', '2.18.0-feature-branch-with-a-very-long-prerelease-tag.1234'],
      ['Frontend', 'web', 'Web App', '3.1.0'],
    ].map(([stage = '', actionId = '', project = '', version = '']) => ({
      stage,
      actionId,
      project,
      environment: 'Production',
      tenant: null,
      releaseId: `Releases-${actionId}`,
      version,
      why: 'the newest release',
    })),
  };
  const approvalAction = gated.stages[0]?.actions[0];
  if (approvalAction)
    approvalAction.approval = {
      rounds: [round],
      runRemainingMs: 0,
      decisions: [
        {
          round: 2,
          by: 'ben@example.com',
          decision: 'reject',
          at: '2026-11-20T09:20:00.000Z',
          via: 'link',
          ip: '203.0.113.7',
          comment: 'not during the sale',
        },
      ],
    };
  const request = approvalRequestMail(
    {
      run: gated,
      spec,
      round,
      to: 'ben@example.com',
      link: `${publicUrl}/api/approvals/eyJ2IjoxfQ.c2lnbmF0dXJl`,
      apiBase: publicUrl,
    },
    { timeZone, publicUrl },
  );
  const rejected = structuredClone(gated);
  rejected.status = 'failed';
  rejected.finishedAt = '2026-11-20T09:21:00.000Z';
  rejected.failure = {
    stage: 'Approval',
    actionId: 'go',
    message: 'go (approval): rejected by ben@example.com ("not during the sale") (round 2)',
  };
  const rejectedMail = runFinishedMail(rejected, { timeZone, publicUrl });
  return {
    'run-approval': { to: ['ben@example.com'], ...request, category: 'run-approval' },
    'run-finished-rejected': { to, ...rejectedMail, category: 'run-finished' },
    'run-finished': { to, ...finished, category: 'run-finished' },
    'run-notify': { to, ...notify, category: 'run-notify' },
  };
}

function allMails(): Record<string, MailMessage> {
  const details = {
    deployedBy: new Map([
      ['Deployments-1', 'a.person.with.a.long.username@example-corporation.com'],
    ]),
    taskUrl: (spaceId: string, taskId: string) =>
      `https://octopus.example.com/app#/${spaceId}/tasks/${taskId}`,
    statusUrl: `${publicUrl}/api/ui#set-web-stack`,
    timeZone,
  };
  const promotion = config.promotions[0];
  if (!promotion) throw new Error('the example has a promotion');
  const blockedText =
    'The promotion of set web-stack from Test to Production was stopped before deploying anything:\n\n- freeze window "Christmas freeze" until Sun, 27 Dec 2026, 00:00 GMT\n\nNothing was deployed. It runs again at its next scheduled slot.';
  const subject = 'Promotion "nightly" did not run (Fri, 20 Nov 2026, 18:00 GMT)';
  return {
    'set-deployed': watchMessage(watchNotice('live'), details),
    'set-deployment-failed': watchMessage(watchNotice('failure'), details),
    ...runMails(),
    promotion: {
      to: ['release-managers@example.com'],
      subject,
      ...promotionMail(promotion, blockedText, subject, publicUrl),
      category: 'promotion',
    },
  };
}

describe.skipIf(!haveChromium)('emails in a browser', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
    await mkdir(artifacts, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
  });

  const kinds = Object.keys(allMails());
  it.each(kinds)(
    '%s: a styled document that fits desktop and a 390 px phone',
    { timeout: 120_000 },
    async (kind) => {
      const mail = allMails()[kind];
      if (!mail?.html) throw new Error(`${kind} has no HTML part`);
      expect(mail.html).toMatch(/^<!DOCTYPE html>/);
      await writeFile(resolve(artifacts, `${kind}.html`), mail.html);
      const eml = toEml(
        mail,
        'coordinator@example.com',
        new Date('2026-11-20T10:00:00Z'),
        `${kind}-1`,
      );
      await writeFile(resolve(artifacts, `${kind}.eml`), eml);
      // The text part, as a terminal shows the .eml: no raw ISO times, the zone's time instead.
      expect(mail.text).not.toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/);
      expect(mail.text).toMatch(/\d{1,2} \w{3} 2026, \d{2}:\d{2} (CET|GMT)/);
      expect(mail.text).toContain(publicUrl);

      for (const width of [1100, 390]) {
        const page = await browser.newPage({ viewport: { width, height: 900 } });
        await page.setContent(mail.html, { waitUntil: 'load' });
        await page.screenshot({
          path: resolve(artifacts, `${kind}-${width}.png`),
          fullPage: true,
        });
        const seen = await page.evaluate(() => {
          const text = [document.querySelector('h1'), document.querySelector('p')];
          return {
            title: document.title,
            font: text.map((el) => (el ? getComputedStyle(el).fontFamily : '')).join(' | '),
            overflow: document.documentElement.scrollWidth - window.innerWidth,
            links: Array.from(document.querySelectorAll('a')).map(
              (a) => a.getAttribute('href') ?? '',
            ),
            scripts: document.scripts.length,
          };
        });
        await page.close();
        expect(seen.title.length).toBeGreaterThan(10);
        expect(mail.subject.startsWith(seen.title)).toBe(true);
        expect(seen.font).not.toMatch(/(^|\| )("?Times|serif)/);
        expect(seen.font.split(' | ').every((f) => f.includes('Segoe UI'))).toBe(true);
        expect(
          seen.overflow,
          `${kind} at ${width} px is wider than the screen`,
        ).toBeLessThanOrEqual(0);
        expect(seen.links.some((h) => h.startsWith(`${publicUrl}/api/ui`))).toBe(true);
        expect(seen.scripts).toBe(0);
      }
    },
  );
});
