// The status page renderer: everything shown is escaped, empty and failed sections say so, no script.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { JobRunRecord } from '../../shared/jobs/jobHistory.js';
import type { RunView } from '../../shared/runs/view.js';
import { renderErrorPage } from '../../shared/ui/errorPage.js';
import { escapeHtml, html, link } from '../../shared/html/html.js';
import type { LockPageView, StatusPageModel } from '../../shared/ui/model.js';
import { renderStatusPage } from '../../shared/ui/renderStatusPage.js';
import { contentSecurityPolicy } from '../../shared/ui/styles.js';

const now = new Date('2026-11-20T12:00:00Z');
const evil = '<script>alert("x")</script>';
const evilAttr = '"><img src=x onerror=alert(1)>';

function emptyModel(over: Partial<StatusPageModel> = {}): StatusPageModel {
  return {
    generatedAt: now,
    refreshSeconds: 30,
    octopusUrl: undefined,
    sets: { ok: true, value: { lastPoll: undefined, problems: [], sets: [] } },
    runs: { ok: true, value: { active: [], recent: [], notShown: 0 } },
    promotions: { ok: true, value: [] },
    locks: { ok: true, value: [] },
    jobs: { ok: true, value: [] },
    ...over,
  };
}

function hostileModel(): StatusPageModel {
  const run: RunView = {
    id: `run-1${evil}`,
    kind: 'playbook',
    name: `release ${evil}`,
    status: 'running',
    summary: `playbook ${evil} is running stage 1 of 1`,
    environment: `Production ${evil}`,
    tenant: undefined,
    trigger: { kind: 'api', by: evilAttr },
    createdAt: '2026-11-20T11:58:00Z',
    updatedAt: '2026-11-20T11:59:00Z',
    deadline: '2026-11-20T12:58:00Z',
    stages: [
      {
        name: `Stage ${evil}`,
        status: 'running',
        actions: [
          {
            id: 'db',
            type: 'deploy',
            describe: `deploy ${evil} to Test`,
            status: 'running',
            release: { version: `1.0.0${evil}`, releaseId: 'Releases-1', why: evil },
            taskId: `ServerTasks-1${evilAttr}`,
            taskLink: 'javascript:alert(1)',
            note: evil,
          },
        ],
      },
    ],
    onFailure: { status: 'notRun', steps: [] },
    previous: [],
    finishedMail: 'none',
    history: [],
  };
  const lock: LockPageView = {
    name: `db-migrations ${evil}`,
    permits: 1,
    lastFence: 7,
    holders: [
      {
        holder: `deploy ${evilAttr}`,
        fence: 7,
        grantedAt: '2026-11-20T11:59:00Z',
        expiresAt: '2026-11-20T12:01:00Z',
        expired: false,
        octopusTaskId: 'ServerTasks-9',
        taskUrl: 'https://octopus.example.com/app#/Spaces-1/tasks/ServerTasks-9',
      },
    ],
    waiters: [
      {
        position: 1,
        holder: `waiter ${evil}`,
        priority: 0,
        queuedAt: '2026-11-20T11:59:30Z',
        octopusTaskId: undefined,
        taskUrl: undefined,
        why: `1 of 1 permit(s) held by deploy ${evilAttr}; it is next in line`,
      },
    ],
  };
  const job: JobRunRecord = {
    job: `job ${evil}`,
    startedAt: '2026-11-20T11:59:00Z',
    finishedAt: '2026-11-20T11:59:01Z',
    durationMs: 1000,
    outcome: 'failed',
    summary: `failed: ${evil}`,
    instance: evilAttr,
    isPastDue: false,
  };
  return emptyModel({
    octopusUrl: `https://octopus.example.com/${evil}`,
    sets: {
      ok: true,
      value: {
        lastPoll: { at: '2026-11-20T11:59:30Z', instance: evil },
        problems: [evil],
        sets: [
          {
            set: `web ${evil}`,
            description: evilAttr,
            space: evil,
            projects: [`Project ${evil}`],
            problem: evil,
            cells: [
              {
                environment: `Env ${evil}`,
                environmentOrder: 0,
                tenant: `Tenant ${evilAttr}`,
                state: 'deploying',
                since: '2026-11-20T11:59:30Z',
                projects: [
                  {
                    project: `Project ${evil}`,
                    projectId: 'Projects-1',
                    release: `2.0.0${evil}`,
                    releaseId: 'Releases-2',
                    state: `Executing${evil}`,
                    deploymentId: 'Deployments-1',
                    taskId: 'ServerTasks-2',
                    created: '2026-11-20T11:59:00Z',
                    completedTime: null,
                    taskUrl: `https://octopus.example.com/app#/Spaces-1/tasks/ServerTasks-2?x="${evil}`,
                  },
                ],
              },
            ],
          },
        ],
      },
    },
    runs: { ok: true, value: { active: [run], recent: [], notShown: 0 } },
    locks: { ok: true, value: [lock] },
    jobs: { ok: true, value: [job] },
  });
}

describe('escapeHtml', () => {
  it('escapes every character that could end text or an attribute', () => {
    expect(escapeHtml(`<a href="x" title='y'>&\`</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&#96;&lt;/a&gt;',
    );
    expect(escapeHtml(undefined)).toBe('');
    expect(escapeHtml(42)).toBe('42');
  });

  it('is what the html tag applies to every interpolated value, arrays included', () => {
    const out = html`<p title="${evilAttr}">${[evil, html`<b>${evil}</b>`]}</p>`.markup;
    expect(out).toBe(
      `<p title="${escapeHtml(evilAttr)}">${escapeHtml(evil)}<b>${escapeHtml(evil)}</b></p>`,
    );
  });

  it('links only http and https addresses', () => {
    expect(link('javascript:alert(1)', 'task').markup).toBe('task');
    expect(link('data:text/html,<script>', 'task').markup).toBe('task');
    expect(link('https://octopus.example.com/app#/Spaces-1/tasks/T-1', 'task').markup).toBe(
      '<a href="https://octopus.example.com/app#/Spaces-1/tasks/T-1" rel="noreferrer">task</a>',
    );
  });
});

describe('renderStatusPage', () => {
  it('renders names containing <script> and attribute breakers as inert text', () => {
    const page = renderStatusPage(hostileModel());
    expect(page).not.toMatch(/<script/i);
    expect(page).not.toMatch(/<img/i);
    expect(page).not.toMatch(/javascript:/i);
    expect(page).not.toContain('"><');
    // The hostile names are all there, as text.
    for (const shown of [
      `web ${evil}`,
      `Project ${evil}`,
      `Env ${evil}`,
      `db-migrations ${evil}`,
      `waiter ${evil}`,
      `job ${evil}`,
      `release ${evil}`,
    ])
      expect(page).toContain(escapeHtml(shown));
    expect(page).toContain(escapeHtml(`deploy ${evilAttr}`));
  });

  it('shows every section as empty, and says why, when nothing has happened yet', () => {
    const page = renderStatusPage(emptyModel());
    expect(page).toContain('The status poll has not run yet');
    expect(page).toContain('No project sets are configured');
    expect(page).toContain('No run is in progress.');
    expect(page).toContain('No run has finished yet.');
    expect(page).toContain('No lock has been taken yet.');
    expect(page).toContain('No timer job has run yet.');
  });

  it('shows a configured set the poll has not recorded as not recorded yet', () => {
    const page = renderStatusPage(
      emptyModel({
        sets: {
          ok: true,
          value: {
            lastPoll: undefined,
            problems: [],
            sets: [
              {
                set: 'web',
                description: undefined,
                space: 'Default',
                projects: ['A'],
                cells: [],
                problem: undefined,
              },
            ],
          },
        },
      }),
    );
    expect(page).toContain('No status recorded for this set yet');
  });

  it('shows a section that could not be read with its reason, and still renders the others', () => {
    const page = renderStatusPage(
      emptyModel({
        locks: { ok: false, message: 'The locks could not be read from Table Storage (boom).' },
      }),
    );
    expect(page).toContain('The locks could not be read from Table Storage (boom).');
    expect(page).toContain('No run is in progress.');
  });

  it('shows the status poll from its own record when it keeps no job history', () => {
    const page = renderStatusPage(
      emptyModel({
        sets: {
          ok: true,
          value: {
            lastPoll: { at: '2026-11-20T11:59:00Z', instance: 'i-1' },
            problems: [],
            sets: [],
          },
        },
      }),
    );
    expect(page).toContain('<th scope="row">statusPoll</th>');
    expect(page).not.toContain('No timer job has run yet.');
  });

  it('warns when the last status poll is old', () => {
    const page = renderStatusPage(
      emptyModel({
        sets: {
          ok: true,
          value: {
            lastPoll: { at: '2026-11-20T11:00:00Z', instance: 'i-1' },
            problems: [],
            sets: [],
          },
        },
      }),
    );
    expect(page).toContain('set status may be out of date');
  });

  it('refreshes itself and has no script, with its one stylesheet allowed by hash', () => {
    const page = renderStatusPage(emptyModel({ refreshSeconds: 15 }));
    expect(page).toContain('<meta http-equiv="refresh" content="15" />');
    expect(page).not.toMatch(/<script|\son[a-z]+=/i);
    const css = /<style>([\s\S]*?)<\/style>/.exec(page)?.[1] ?? '';
    const hash = createHash('sha256').update(css).digest('base64');
    expect(contentSecurityPolicy).toContain(`'sha256-${hash}'`);
    expect(contentSecurityPolicy).toContain("script-src 'none'");
  });

  it('says why when the page cannot be built, escaped like everything else', () => {
    const page = renderErrorPage(`settings are wrong: ${evil}`, 30);
    expect(page).toContain(
      `The status page could not be built: settings are wrong: ${escapeHtml(evil)}`,
    );
    expect(page).not.toMatch(/<script/i);
  });
});

describe('status page: runs and promotions', () => {
  const finished = (id: string, environment: string, message: string): RunView => ({
    id,
    kind: 'playbook',
    name: 'release-web-stack',
    status: 'failed',
    summary: 'playbook "release-web-stack" failed',
    environment,
    tenant: undefined,
    trigger: { kind: 'rule', by: 'on-web-api-release' },
    createdAt: '2026-11-20T11:00:00Z',
    updatedAt: '2026-11-20T11:05:00Z',
    finishedAt: '2026-11-20T11:05:00Z',
    deadline: '2026-11-20T13:00:00Z',
    failure: { stage: 'Frontend', message: `${message}\nsecond line of the task log` },
    stages: [],
    onFailure: { status: 'notRun', steps: [] },
    previous: [],
    finishedMail: 'sent',
    history: [],
  });

  it('tells collapsed runs apart: environment, trigger, start time and a one-line outcome', () => {
    const page = renderStatusPage(
      emptyModel({
        runs: {
          ok: true,
          value: {
            active: [],
            recent: [
              finished('r-1', 'Test', 'web (deploy Web App to Test): failed at Step 2'),
              finished('r-2', 'Production', 'check api-is-recent: Web API is 2.17.0'),
            ],
            notShown: 0,
          },
        },
      }),
    );
    const summaries = [...page.matchAll(/<summary>([\s\S]*?)<\/summary>/g)].map((m) =>
      (m[1] ?? '')
        .replace(/<[^>]+>/g, ' ')
        .replace(/\s+/g, ' ')
        .trim(),
    );
    expect(summaries).toHaveLength(2);
    expect(summaries[0]).toContain('Test');
    expect(summaries[0]).toContain('started by a rule (on-web-api-release)');
    expect(summaries[0]).toContain('started 1 h ago');
    expect(summaries[0]).toContain('Frontend: web (deploy Web App to Test): failed at Step 2');
    expect(summaries[0]).not.toContain('second line');
    expect(summaries[1]).toContain('Production');
    expect(summaries[0]).not.toBe(summaries[1]);
    expect(page).toContain('id="run-r-1"');
  });

  it('lists promotions with their next slot in their own zone, and a blocked one as a warning', () => {
    const page = renderStatusPage(
      emptyModel({
        promotions: {
          ok: true,
          value: [
            {
              name: 'nightly',
              set: 'web-stack',
              from: 'Test',
              to: 'Production',
              cron: '0 0 18 * * Mon-Fri',
              timeZone: 'America/New_York',
              nextSlot: '2026-11-20T23:00:00.000Z',
              last: {
                slot: '2026-11-19T23:00Z',
                state: 'blocked',
                at: '2026-11-19T23:00:05Z',
                detail: 'freeze window "Black Friday" until 2026-11-30\nmore',
                runId: undefined,
              },
            },
          ],
        },
        jobs: {
          ok: true,
          value: [
            {
              job: 'scheduledPromotion',
              startedAt: '2026-11-19T23:00:00Z',
              finishedAt: '2026-11-19T23:00:05Z',
              durationMs: 5000,
              outcome: 'ok',
              summary: 'nightly: blocked',
              instance: 'i-1',
              isPastDue: false,
            },
          ],
        },
      }),
    );
    expect(page).toContain('Fri, 20 Nov 2026, 18:00 GMT-5'); // 18:00 in New York, not 23:00 UTC
    expect(page).toContain('<span class="badge warn">blocked</span>');
    expect(page).toContain('freeze window &quot;Black Friday&quot; until 2026-11-30');
    expect(page).toContain('1 promotion(s) did not run at their last slot');
    // The timer job ran fine, but the page does not call the promotion "ok".
    expect(page).toContain('<span class="badge warn">1 blocked</span>');
    expect(page).not.toContain('<span class="badge good">ok</span>');
  });
});

describe('status page: run locks', () => {
  const idleRunLock = (id: string): LockPageView => ({
    name: `job/run/${id}`,
    permits: 1,
    lastFence: 3,
    holders: [],
    waiters: [],
  });

  it('leaves out idle run locks but shows a run lock while it is held', () => {
    const held: LockPageView = {
      ...idleRunLock('r-busy'),
      holders: [
        {
          holder: 'vm-1',
          fence: 4,
          grantedAt: '2026-11-20T11:59:00Z',
          expiresAt: '2026-11-20T12:01:00Z',
          expired: false,
          octopusTaskId: undefined,
          taskUrl: undefined,
        },
      ],
    };
    const page = renderStatusPage(
      emptyModel({ locks: { ok: true, value: [idleRunLock('r-1'), idleRunLock('r-2'), held] } }),
    );
    expect(page).not.toContain('job/run/r-1');
    expect(page).toContain('job/run/r-busy');
    expect(page).toContain('2 idle run lock(s) not shown.');
    const onlyIdle = renderStatusPage(
      emptyModel({ locks: { ok: true, value: [idleRunLock('r-1')] } }),
    );
    expect(onlyIdle).toContain('No lock is held or waited for.');
  });
});

describe('renderStatusPage: release trains', () => {
  it('shows the live train of each column: verified and when, or soaking until when', () => {
    const model = emptyModel({
      sets: {
        ok: true,
        value: {
          lastPoll: { at: '2026-11-20T11:59:30Z', instance: 'i-1' },
          problems: [],
          sets: [
            {
              set: 'web-stack',
              description: undefined,
              space: 'Default',
              projects: ['Database'],
              problem: undefined,
              cells: ['Test', 'Production'].map((environment, i) => ({
                environment,
                environmentOrder: i,
                tenant: null,
                state: 'complete' as const,
                since: '2026-11-20T10:00:00Z',
                projects: [],
                train:
                  i === 0
                    ? {
                        id: 'web-stack@0123456789abcdef',
                        state: 'verified' as const,
                        verified: true,
                        verifiedAt: '2026-11-20T11:00:00Z',
                        standingSince: '2026-11-20T10:00:00Z',
                        soakEndsAt: null,
                        capturedAt: '2026-11-20T10:00:00Z',
                      }
                    : {
                        id: `web-stack@fedcba9876543210${evil}`,
                        state: 'soaking' as const,
                        verified: false,
                        verifiedAt: null,
                        standingSince: '2026-11-20T11:30:00Z',
                        soakEndsAt: '2026-11-20T12:30:00Z',
                        capturedAt: '2026-11-20T11:30:00Z',
                      },
              })),
            },
          ],
        },
      },
    });
    const page = renderStatusPage(model);
    expect(page).toContain('train 0123456789abcdef');
    expect(page).toMatch(/verified<\/span> <small><time datetime="2026-11-20T11:00:00Z"/);
    expect(page).toMatch(/soaking<\/span>\s*<small>until <time datetime="2026-11-20T12:30:00Z"/);
    expect(page).not.toContain(evil);
  });
});
