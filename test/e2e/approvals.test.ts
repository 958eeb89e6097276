// End to end: approvals (issue 17 item 2) through two dev hosts (`node dist/dev/start.js`) on one
// Azurite, against the Octopus simulator, with mail in each host's outbox. What users break: a mail
// scanner following the link, two approvers clicking at once on two instances, a click twice, a
// release that arrives after the approval, a tampered or expired link, an instance that dies between
// recording a decision and moving the run on.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  sampleScenario,
  startOctopusSimulator,
  type OctopusSimulator,
} from '../../dev/octopus-sim/index.js';
import { coordinationConfigSchema } from '../../shared/config/coordination/schema.js';
import { recordApprovalDecision } from '../../shared/runs/decisions.js';
import { createRuntime } from '../../shared/runtime/runtime.js';
import type { Browser } from 'playwright-core';
import { haveChromium, launchChromium, warnIfNoChromium } from '../helpers/browser.js';
import { DevHostPair } from '../helpers/devHostPair.js';
import type { DevHostProcess } from '../helpers/devHostProcess.js';

warnIfNoChromium('approval page');

const approvers = ['ana@example.com', 'ben@example.com'];
const deployDb = {
  name: 'Database',
  actions: [{ type: 'deploy', id: 'db', project: 'Database', environment: 'Development' }],
};
const onFailure = [
  { type: 'notify', id: 'tell', to: ['oncall@example.com'], subject: 'Run {run.id} failed' },
];
const playbook = (approval: Record<string, unknown>, more: Record<string, unknown>[] = []) => ({
  stages: [
    { name: 'Approval', actions: [{ type: 'approval', id: 'go', approvers, ...approval }] },
    ...more,
    deployDb,
  ],
  onFailure,
  timeoutMinutes: 10,
  recipients: ['release-managers@example.com'],
});

const rawConfig = {
  space: 'Default',
  projectSets: {
    'web-stack': {
      projects: ['Database', 'Web API', 'Web App'],
      dependsOn: { 'Web API': ['Database'], 'Web App': ['Web API'] },
    },
  },
  promotions: [
    {
      name: 'approved-promotion',
      set: 'web-stack',
      from: 'Test',
      to: 'Production',
      cron: '0 0 0 1 1 *',
      approval: { approvers: ['ana@example.com'], timeoutMinutes: 30 },
      recipients: ['release-managers@example.com'],
    },
  ],
  playbooks: {
    'approve-one': playbook({ minApprovals: 1, timeoutMinutes: 30 }),
    'approve-two': playbook({ minApprovals: 2, timeoutMinutes: 30 }),
    'approve-then-wait': playbook({ minApprovals: 1, timeoutMinutes: 30 }, [
      { name: 'Pause', actions: [{ type: 'wait', id: 'pause', minutes: 0.1 }] },
    ]),
    'approve-quickly': playbook({ minApprovals: 1, timeoutMinutes: 0.05 }),
  },
};
// The same validation the hosts apply: a test config that does not load fails here, by its JSON path.
coordinationConfigSchema.parse(rawConfig);

let sim: OctopusSimulator;
const pair = new DevHostPair();
const { host } = pair;

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0 });
  await pair.start({
    name: 'approvals',
    sim,
    config: rawConfig,
    env: { REPORT_TIME_ZONE: 'Europe/Berlin' },
  });
}, 240_000);

afterAll(async () => {
  await pair.stop();
  await sim.stop();
});

beforeEach(() => {
  sim.loadScenario({ ...sampleScenario, stepDurationMs: 100, webhookBatchIntervalMs: 60_000 });
  sim.faults({ clear: true });
  // Something new to deploy in Development (everything there is current in the sample).
  sim.createRelease({ project: 'Database', version: '1.6.1' });
});

afterEach(async () => {
  // Every run of a test ends before the next starts (they share the hosts' storage and group).
  const res = await fetch(`${host(0).url}/api/runs?limit=500`);
  const { runs } = (await res.json()) as { runs: { id: string; status: string }[] };
  for (const r of runs)
    if (!['succeeded', 'failed', 'cancelled'].includes(r.status))
      await post(host(0), `/api/runs/${r.id}/cancel`, { by: 'test cleanup' });
  await Promise.all(runs.map((r) => waitForRun(r.id, (x) => terminal.includes(x.status))));
}, 120_000);

interface ApprovalBody {
  actionId: string;
  approvers: string[];
  minApprovals: number;
  round: number;
  until?: string;
  waitingFor: string[];
  approvedBy: string[];
  rejectedBy?: string;
  plan: { project: string; environment: string; version: string; releaseId: string }[];
  decisions: { by: string; decision: string; via: string; ip?: string; comment?: string }[];
}
interface RunBody {
  id: string;
  status: string;
  summary: string;
  failure?: { message: string };
  waitingForApproval?: ApprovalBody;
  finishedMail: string;
  onFailure: { status: string };
  stages: {
    name: string;
    status: string;
    actions: {
      id: string;
      status: string;
      error?: string;
      release?: { version: string; why: string };
      approval?: ApprovalBody;
    }[];
  }[];
  history: { message: string }[];
}

const terminal = ['succeeded', 'failed', 'cancelled'];

async function post(
  h: DevHostProcess,
  path: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${h.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function getRun(id: string, h = host(0)): Promise<RunBody> {
  const res = await fetch(`${h.url}/api/runs/${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as RunBody;
}

async function waitForRun(
  id: string,
  done: (r: RunBody) => boolean,
  timeoutMs = 60_000,
): Promise<RunBody> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const run = await getRun(id);
    if (done(run)) return run;
    if (Date.now() > until)
      throw new Error(
        `run ${id} did not get there: ${run.status} ${run.summary}\n${run.history
          .slice(-6)
          .map((h) => h.message)
          .join('\n')}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

const finished = (r: RunBody) =>
  terminal.includes(r.status) && !['pending', 'sending'].includes(r.finishedMail);

async function start(playbook: string): Promise<string> {
  const answer = await post(host(0), '/api/runs', { playbook, requestedBy: 'sam.lee' });
  expect(answer.status).toBe(201);
  return answer.body.id as string;
}

interface Mail {
  file: string;
  to: string;
  subject: string;
  html: string;
  text: string;
}

/** Every email in both hosts' outboxes (whichever instance advanced the run sent it). */
function outbox(): Mail[] {
  const mails: Mail[] = [];
  for (const h of pair.hosts) {
    let files: string[] = [];
    try {
      files = readdirSync(h.outboxDir).filter((f) => f.endsWith('.eml'));
    } catch {
      continue;
    }
    for (const f of files) {
      // The outbox writes the .eml, then the .html: one still being written is read next time.
      const htmlFile = join(h.outboxDir, f.replace(/\.eml$/, '.html'));
      if (!existsSync(htmlFile)) continue;
      const eml = readFileSync(join(h.outboxDir, f), 'utf8');
      const html = readFileSync(htmlFile, 'utf8');
      const text = eml
        .replace(/=\r\n/g, '')
        .replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
      mails.push({
        file: f,
        to: /^To: (.*)$/m.exec(eml)?.[1]?.trim() ?? '',
        subject: /^Subject: (.*)$/m.exec(eml)?.[1]?.trim() ?? '',
        html,
        text,
      });
    }
  }
  return mails;
}

interface Link {
  to: string;
  url: string;
  round: number;
}

/** The approval links mailed for a run (one email per approver per round). */
function approvalLinks(runId: string): Link[] {
  return outbox()
    .filter((m) => m.file.includes('run-approval') && m.subject.includes(runId))
    .map((m) => {
      const url = /href="(http[^"]*\/api\/approvals\/[^"]+)"/.exec(m.html)?.[1] ?? '';
      const token = url.split('/').at(-1) ?? '';
      const claims = JSON.parse(
        Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8'),
      ) as { round: number; by: string };
      expect(claims.by).toBe(m.to);
      return { to: m.to, url, round: claims.round };
    });
}

async function waitForLinks(runId: string, round: number, count: number): Promise<Link[]> {
  const until = Date.now() + 30_000;
  for (;;) {
    const links = approvalLinks(runId).filter((l) => l.round === round);
    if (links.length >= count) return links;
    if (Date.now() > until) throw new Error(`no ${count} approval emails of round ${round}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const linkOf = (links: Link[], to: string): string => {
  const found = links.find((l) => l.to === to);
  if (!found) throw new Error(`no link for ${to}`);
  return found.url;
};

async function decide(
  url: string,
  decision: 'approve' | 'reject',
  comment = '',
): Promise<{ status: number; body: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ decision, comment }).toString(),
  });
  return { status: res.status, body: await res.text() };
}

/** Deployments the coordinator created in the simulator, as "project version @ environment". */
async function coordinatorDeployments(): Promise<string[]> {
  const headers = { 'X-Octopus-ApiKey': sim.apiKey };
  const get = async <T>(path: string): Promise<T> =>
    (await (await fetch(`${sim.url}${path}`, { headers })).json()) as T;
  const list = <T>(path: string) => get<{ Items: T[] }>(path).then((x) => x.Items);
  const projects = await list<{ Id: string; Name: string }>('/api/Spaces-1/projects?take=100');
  const envs = await list<{ Id: string; Name: string }>('/api/Spaces-1/environments?take=100');
  const releases = await list<{ Id: string; Version: string }>('/api/Spaces-1/releases?take=1000');
  const deployments = await list<{
    ProjectId: string;
    EnvironmentId: string;
    ReleaseId: string;
    Comments?: string;
  }>('/api/Spaces-1/deployments?take=1000');
  const name = (l: { Id: string; Name: string }[], id: string) =>
    l.find((x) => x.Id === id)?.Name ?? id;
  return deployments
    .filter((d) => (d.Comments ?? '').includes('coordinator run='))
    .map(
      (d) =>
        `${name(projects, d.ProjectId)} ${releases.find((r) => r.Id === d.ReleaseId)?.Version ?? d.ReleaseId} @ ${name(envs, d.EnvironmentId)}`,
    );
}

describe('approvals through two dev hosts', () => {
  it('waits (by whom, until when); a GET changes nothing; two approvers at once on two instances make one transition; a second click counts once; the approved release deploys once', async () => {
    const id = await start('approve-one');
    const links = await waitForLinks(id, 1, 2);
    expect(links.map((l) => l.to).sort()).toEqual(approvers);
    const waiting = await waitForRun(id, (r) => r.waitingForApproval?.until !== undefined);
    expect(waiting.status).toBe('running');
    expect(waiting.summary).toMatch(
      /waiting for approval \(0 of 1\) by ana@example.com, ben@example.com until /,
    );
    expect(waiting.waitingForApproval).toMatchObject({
      actionId: 'go',
      minApprovals: 1,
      round: 1,
      waitingFor: approvers,
      plan: [{ project: 'Database', environment: 'Development', version: '1.6.1' }],
    });
    const mail = outbox().find(
      (m) => m.file.includes('run-approval') && m.to === 'ana@example.com',
    );
    expect(mail?.text).toContain('Database 1.6.1 to Development');
    expect(mail?.text).toContain(`POST http://127.0.0.1:`);

    // A mail scanner (or a preview) fetches both links, on both instances: nothing is decided.
    for (const h of [0, 1]) {
      for (const l of links) {
        const url = l.url.replace(/^http:\/\/127\.0\.0\.1:\d+/, host(h).url);
        const res = await fetch(url);
        expect(res.status).toBe(200);
        const page = await res.text();
        expect(page).toContain('<form method="post"');
        expect(page).toContain('1.6.1');
        expect(res.headers.get('content-security-policy')).toContain("form-action 'self'");
      }
    }
    expect((await getRun(id)).waitingForApproval?.decisions).toEqual([]);
    const statusPage = (await (await fetch(`${host(1).url}/api/ui`)).text()).replace(/\s+/g, ' ');
    expect(statusPage).toContain('Waiting for approval: 0 of 1 so far');
    expect(statusPage).toMatch(
      /waiting for approval \(0 of 1\) by ana@example.com, ben@example.com until/,
    );
    expect(await coordinatorDeployments()).toEqual([]);

    // Both approvers click at once, each on another instance: one is recorded, the other is told.
    const [a, b] = await Promise.all([
      decide(
        linkOf(links, 'ana@example.com').replace(/^http:\/\/127\.0\.0\.1:\d+/, host(0).url),
        'approve',
        'ship it',
      ),
      decide(
        linkOf(links, 'ben@example.com').replace(/^http:\/\/127\.0\.0\.1:\d+/, host(1).url),
        'approve',
      ),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    expect([a.body, b.body].join('\n')).toContain('Already decided');
    // The same link again: counted once.
    const winner = a.status === 200 ? 'ana@example.com' : 'ben@example.com';
    const again = await decide(linkOf(links, winner), 'approve');
    expect(again.status).toBe(200);
    expect(again.body).toContain('This link was used already');

    const done = await waitForRun(id, finished);
    expect(done.status).toBe('succeeded');
    const approval = done.stages[0]?.actions[0]?.approval;
    expect(approval?.decisions).toHaveLength(1);
    expect(approval?.decisions[0]).toMatchObject({ by: winner, decision: 'approve', via: 'link' });
    expect(approval?.decisions[0]?.ip).toMatch(/127\.0\.0\.1/);
    const db = done.stages[1]?.actions[0];
    expect(db?.release?.version).toBe('1.6.1');
    expect(db?.release?.why).toContain(`approved by ${winner}`);
    expect(await coordinatorDeployments()).toEqual(['Database 1.6.1 @ Development']);
    expect(done.history.map((h) => h.message).join('\n')).toMatch(
      new RegExp(`go: approved by ${winner} via the emailed link from 127\\.0\\.0\\.1`),
    );
    const final = outbox().find((m) => m.file.includes('run-finished') && m.subject.includes(id));
    expect(final?.text).toContain('Approvals:');
    expect(final?.text).toContain(`approved by ${winner}`);
  }, 120_000);

  it('asks again when the plan changed before the approved stage starts; the old link says it was replaced; the newly approved release is what deploys', async () => {
    const id = await start('approve-two');
    const first = await waitForLinks(id, 1, 2);
    expect((await post(host(0), `/api/runs/${id}/approve`, { by: 'ana@example.com' })).status).toBe(
      200,
    );
    // Same person through the API again: counted once.
    const twice = await post(host(1), `/api/runs/${id}/approve`, { by: 'ANA@example.com ' });
    expect(twice.status).toBe(200);
    expect(twice.body).toMatchObject({ recorded: false, alreadyRecorded: true });
    sim.createRelease({ project: 'Database', version: '1.6.2' });
    expect((await post(host(1), `/api/runs/${id}/approve`, { by: 'ben@example.com' })).status).toBe(
      200,
    );

    const second = await waitForLinks(id, 2, 2);
    const asked = await waitForRun(id, (r) => r.waitingForApproval?.round === 2);
    expect(asked.waitingForApproval?.plan[0]?.version).toBe('1.6.2');
    expect(asked.status).toBe('running');
    expect(await coordinatorDeployments()).toEqual([]);
    const mail = outbox().find(
      (m) => m.file.includes('run-approval') && m.text.includes('round 2'),
    );
    expect(mail?.text).toContain('Database in Development is now 1.6.2 instead of 1.6.1');

    const old = await fetch(linkOf(first, 'ana@example.com'));
    expect(old.status).toBe(410);
    expect(await old.text()).toContain('This request was replaced');
    expect((await decide(linkOf(first, 'ben@example.com'), 'approve')).status).toBe(410);

    for (const to of approvers)
      expect((await decide(linkOf(second, to), 'approve')).status).toBe(200);
    const done = await waitForRun(id, finished);
    expect(done.status).toBe('succeeded');
    expect(await coordinatorDeployments()).toEqual(['Database 1.6.2 @ Development']);
  }, 120_000);

  it('what was approved is what runs: a release that arrives after the approval is not deployed', async () => {
    const id = await start('approve-then-wait');
    const links = await waitForLinks(id, 1, 2);
    expect((await decide(linkOf(links, 'ben@example.com'), 'approve')).status).toBe(200);
    await waitForRun(id, (r) => r.stages[1]?.status === 'running');
    sim.createRelease({ project: 'Database', version: '1.6.3' });
    const done = await waitForRun(id, finished);
    expect(done.status).toBe('succeeded');
    expect(await coordinatorDeployments()).toEqual(['Database 1.6.1 @ Development']);
  }, 120_000);

  it('a rejection through the API fails the run and runs onFailure; the final email says who, how and why; a tampered link gets a plain page', async () => {
    const id = await start('approve-one');
    const links = await waitForLinks(id, 1, 2);
    const url = linkOf(links, 'ana@example.com');
    // Ana's link made to speak for someone else: the payload changed, the signature kept.
    const [base = '', token = ''] = url.split('/api/approvals/');
    const [payload = '', signature = ''] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    const forgedPayload = Buffer.from(
      JSON.stringify({ ...claims, by: 'mallory@example.com' }),
    ).toString('base64url');
    const tampered = `${base}/api/approvals/${forgedPayload}.${signature}`;
    const bad = await fetch(tampered);
    expect(bad.status).toBe(400);
    const badPage = await bad.text();
    expect(badPage).toContain('This approval link is not valid');
    expect(badPage).not.toMatch(/at \w+ \(|node_modules|dev-approval-key/);
    const forged = await decide(tampered, 'approve');
    expect(forged.status).toBe(400);

    const rejected = await post(host(1), `/api/runs/${id}/reject`, {
      by: 'ben@example.com',
      comment: 'not during the sale',
    });
    expect(rejected.status).toBe(200);
    const late = await post(host(0), `/api/runs/${id}/approve`, { by: 'ana@example.com' });
    expect(late.status).toBe(409);
    const done = await waitForRun(id, finished);
    expect(done.status).toBe('failed');
    expect(done.failure?.message).toContain('rejected by ben@example.com ("not during the sale")');
    expect(done.onFailure.status).toBe('succeeded');
    expect(await coordinatorDeployments()).toEqual([]);
    const notify = outbox().find((m) => m.file.includes('run-notify') && m.subject.includes(id));
    expect(notify?.to).toBe('oncall@example.com');
    const final = outbox().find((m) => m.file.includes('run-finished') && m.subject.includes(id));
    expect(final?.text).toMatch(
      /rejected by ben@example.com, .* via the API from 127\.0\.0\.1: "not during the sale"/,
    );
    // The link after the decision: nothing to decide.
    const after = await fetch(url);
    expect(after.status).toBe(409);
  }, 120_000);

  it('no decision in time fails the run and runs onFailure; the expired link says so', async () => {
    const id = await start('approve-quickly');
    const links = await waitForLinks(id, 1, 2);
    const done = await waitForRun(id, finished);
    expect(done.status).toBe('failed');
    expect(done.stages[0]?.actions[0]?.status).toBe('timedOut');
    expect(done.failure?.message).toContain('no decision within 0.05 minutes');
    expect(done.onFailure.status).toBe('succeeded');
    const expired = await fetch(linkOf(links, 'ana@example.com'));
    expect(expired.status).toBe(410);
    expect(await expired.text()).toContain('This approval link has expired');
    expect(await coordinatorDeployments()).toEqual([]);
  }, 120_000);

  it('a decision recorded by an instance that died before moving the run on is acted on by the status poll', async () => {
    const id = await start('approve-one');
    await waitForLinks(id, 1, 2);
    // What a host does before it advances the run, then dies: the decision is in the row, nothing more.
    const runtime = await createRuntime({
      env: {
        AzureWebJobsStorage: pair.storage,
        OCTOPUS_URL: sim.url,
        OCTOPUS_API_KEY: sim.apiKey,
        MAIL_OUTBOX_DIR: join(tmpdir(), 'approvals-crash-outbox'),
      },
      config: coordinationConfigSchema.parse(rawConfig),
    });
    const outcome = await recordApprovalDecision(
      runtime,
      { runId: id, by: 'ana@example.com', decision: 'approve', via: 'api' },
      { advance: false },
    );
    expect(outcome.kind).toBe('recorded');
    const done = await waitForRun(id, finished);
    expect(done.status).toBe('succeeded');
    expect(await coordinatorDeployments()).toEqual(['Database 1.6.1 @ Development']);
  }, 120_000);

  it('a promotion with "approval" waits with its exact releases before deploying anything', async () => {
    const started = await post(host(0), '/api/runs', { promotion: 'approved-promotion' });
    expect(started.status).toBe(201);
    const id = started.body.runId as string;
    const waiting = await waitForRun(id, (r) => r.waitingForApproval?.until !== undefined);
    expect(waiting.stages[0]?.name).toBe('Approval');
    expect(waiting.waitingForApproval?.plan.length).toBeGreaterThan(0);
    expect(waiting.waitingForApproval?.plan.every((p) => p.environment === 'Production')).toBe(
      true,
    );
    expect(await coordinatorDeployments()).toEqual([]);
    expect((await post(host(1), `/api/runs/${id}/approve`, { by: 'ana@example.com' })).status).toBe(
      200,
    );
    const done = await waitForRun(id, finished, 90_000);
    expect(done.status).toBe('succeeded');
    const deployed = await coordinatorDeployments();
    const planned = waiting.waitingForApproval?.plan.map(
      (p) => `${p.project} ${p.version} @ ${p.environment}`,
    );
    expect(deployed.sort()).toEqual([...(planned ?? [])].sort());
  }, 150_000);
});

describe.skipIf(!haveChromium)('the approval page in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
    mkdirSync('test-artifacts', { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('fits 1100 and 390 px with its styles, and its Approve button records the decision', async () => {
    const id = await start('approve-one');
    const links = await waitForLinks(id, 1, 2);
    const url = linkOf(links, 'ana@example.com');
    for (const width of [1100, 390]) {
      const page = await browser.newPage({ viewport: { width, height: 900 } });
      await page.goto(url);
      await page.screenshot({ path: `test-artifacts/approval-page-${width}.png`, fullPage: true });
      const seen = await page.evaluate(() => ({
        overflow: document.documentElement.scrollWidth - window.innerWidth,
        font: getComputedStyle(document.body).fontFamily,
        buttons: Array.from(document.querySelectorAll('button')).map((b) => b.textContent),
        rows: document.querySelectorAll('tbody tr').length,
        scripts: document.scripts.length,
      }));
      await page.close();
      expect(seen.overflow, `wider than ${width} px`).toBeLessThanOrEqual(0);
      expect(seen.font).not.toMatch(/^"?Times/);
      expect(seen.buttons).toEqual(['Approve', 'Reject']);
      expect(seen.rows).toBe(1);
      expect(seen.scripts).toBe(0);
    }
    const page = await browser.newPage({ viewport: { width: 390, height: 900 } });
    await page.goto(url);
    await page.fill('textarea[name=comment]', 'from my phone');
    await page.click('button[value=approve]');
    await page.waitForSelector('h1:has-text("Approved")');
    const text = await page.textContent('main');
    await page.screenshot({
      path: 'test-artifacts/approval-page-approved-390.png',
      fullPage: true,
    });
    await page.close();
    expect(text).toContain('Thank you, ana@example.com: you approved');
    const done = await waitForRun(id, finished);
    expect(done.status).toBe('succeeded');
    expect(done.stages[0]?.actions[0]?.approval?.decisions[0]).toMatchObject({
      by: 'ana@example.com',
      comment: 'from my phone',
      via: 'link',
    });
  }, 120_000);
});
