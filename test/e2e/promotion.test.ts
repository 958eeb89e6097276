// Scheduled promotion, conditions and the cooperating-project endpoints, end to end on the simulator and Azurite.
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  startOctopusSimulator,
  type OctopusSimulator,
  type Scenario,
} from '../../dev/octopus-sim/index.js';
import { checkConditionHandler } from '../../functions/conditions.js';
import { ensureDeployedHandler } from '../../functions/ensureDeployed.js';
import { progressHandler } from '../../functions/progress.js';
import { startRunHandler } from '../../functions/runs.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../shared/cli/program.js';
import { ManualClock } from '../../shared/clock.js';
import { jsonApi } from '../../shared/http/handler.js';
import {
  coordinationConfigSchema,
  type CoordinationConfig,
} from '../../shared/config/coordination/schema.js';
import type { Mailer, MailMessage } from '../../shared/mail/mailer.js';
import { collect } from '../../shared/octopus/paging.js';
import { readPromotionPlan, findPromotion } from '../../shared/promotion/readPlan.js';
import { schedulePromotion, runPromotionSlot } from '../../shared/promotion/schedule.js';
import { SlotStore } from '../../shared/promotion/slotStore.js';
import { silentLog } from '../../shared/runtime/log.js';
import { createRuntime, setRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { advanceRun } from '../../shared/runs/advance.js';
import { isTerminalRunStatus, type RunState } from '../../shared/runs/types.js';
import { webStackScenario } from '../helpers/scenarios.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';

const scenario: Scenario = webStackScenario({
  steps: {
    database: ['Back up', 'Migrate'],
    webApi: ['Deploy API', 'Smoke test'],
    webApp: ['Deploy app', 'Purge CDN', 'Smoke test'],
  },
  stepDurationMs: 60,
});

function configWith(
  promotion: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): CoordinationConfig {
  return coordinationConfigSchema.parse({
    projectSets: {
      'web-stack': {
        projects: ['Web App', 'Web API', 'Database'],
        dependsOn: { 'Web App': ['Web API'], 'Web API': ['Database'] },
      },
    },
    promotions: [
      {
        name: 'nightly',
        set: 'web-stack',
        from: 'Test',
        to: 'Production',
        cron: '0 0 18 * * Mon-Fri',
        timeZone: 'Europe/London',
        recipients: ['release@example.com'],
        ...promotion,
      },
    ],
    ...extra,
  });
}

let sim: OctopusSimulator;
const mail: MailMessage[] = [];
const mailer: Mailer = {
  kind: 'outbox',
  describe: () => 'test mailer',
  send: async (m) => {
    mail.push(m);
    return { id: String(mail.length) };
  },
};

async function runtimeFor(
  config: CoordinationConfig,
  clock: ManualClock,
  tablePrefix = uniqueTablePrefix(),
): Promise<Runtime> {
  return createRuntime({
    env: {
      AzureWebJobsStorage: azuriteConnectionString(),
      OCTOPUS_URL: sim.url,
      OCTOPUS_API_KEY: sim.apiKey,
      CATCH_UP_WINDOW_MINUTES: '60',
    },
    config,
    clock,
    mailer,
    tablePrefix,
  });
}

async function runToEnd(runtime: Runtime, runId: string): Promise<RunState> {
  for (let i = 0; i < 400; i++) {
    const { state } = await advanceRun(runtime, runId);
    if (state && isTerminalRunStatus(state.status)) return state;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`run ${runId} did not finish`);
}

async function deploymentsOf(runtime: Runtime, project: string, environment: string) {
  const octopus = runtime.octopus;
  if (!octopus) throw new Error('no octopus');
  const [projectId, environmentId] = [
    await octopus.resolve.projectId(project),
    await octopus.resolve.environmentId(environment),
  ];
  return collect(
    octopus.deployments.list({ projects: [projectId], environments: [environmentId] }),
  );
}

// Friday 2026-11-20: London is on GMT, so 18:00 local is 18:00Z.
const beforeSlot = new Date('2026-11-20T17:59:00.200Z');
const atSlot = new Date('2026-11-20T18:00:00.300Z');

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0 });
});
afterAll(async () => {
  setRuntime(undefined);
  await sim?.stop();
});
beforeEach(() => {
  sim.loadScenario(scenario);
  mail.length = 0;
});

describe('scheduled promotion', () => {
  it('promotes the set in dependency order, skipping what is current, once per slot across instances', async () => {
    const config = configWith({ rollbackOnFailure: true });
    const clock = new ManualClock(beforeSlot);
    const prefix = uniqueTablePrefix();
    const a = await runtimeFor(config, clock, prefix);
    const b = await runtimeFor(config, clock, prefix);
    const promotion = findPromotion(config, 'nightly');
    expect(await schedulePromotion(a, promotion, silentLog)).toEqual([]);

    clock.set(atSlot);
    // What one plan costs once names are cached: one dashboard, one lifecycle check per release to deploy.
    await readPromotionPlan(a.octopus ?? (undefined as never), config, promotion, atSlot);
    sim.resetRequests();
    await readPromotionPlan(a.octopus ?? (undefined as never), config, promotion, atSlot);
    expect(sim.requests().byEndpoint).toEqual({
      'GET /api/{spaceId}/dashboard/dynamic': 1,
      'GET /api/{spaceId}/releases/{id}/deployments/template': 2,
    });

    const [first, second] = await Promise.all([
      schedulePromotion(a, promotion, silentLog),
      schedulePromotion(b, promotion, silentLog),
    ]);
    const started = [...first, ...second].filter((o) => o.state === 'started');
    expect(started).toHaveLength(1);
    const runId = started[0]?.runId ?? '';
    expect(started[0]?.slot).toBe('2026-11-20T18:00Z');

    // A retried or manual run of the same slot does nothing.
    expect(
      (
        await runPromotionSlot(b, promotion, '2026-11-20T18:00Z', {
          by: 'manual',
          log: silentLog,
          trigger: 'manual',
        })
      ).state,
    ).toBe('alreadyClaimed');

    const run = await runToEnd(a, runId);
    expect(run.status).toBe('succeeded');
    expect(run.stages.map((s) => s.actions.map((x) => x.id))).toEqual([['Database'], ['Web-API']]);
    const [db] = await deploymentsOf(a, 'Database', 'Production');
    const [api] = await deploymentsOf(a, 'Web API', 'Production');
    expect(db?.Comments).toContain(runId);
    expect(api?.Comments).toContain(runId);
    // Web API's deployment was created only after Database's stage had finished.
    const dbStage = run.stages[0];
    const apiStage = run.stages[1];
    expect(Date.parse(apiStage?.startedAt ?? '')).toBeGreaterThanOrEqual(
      Date.parse(dbStage?.finishedAt ?? ''),
    );
    expect((await deploymentsOf(a, 'Web App', 'Production')).length).toBe(1); // the seeded one: already current

    const slots = await new SlotStore(a.tables).list('nightly');
    expect(slots.map((s) => [s.slot, s.state, s.runId])).toEqual([
      ['2026-11-20T18:00Z', 'started', runId],
    ]);
    expect(slots[0]?.plan).toMatch(/Web App: skip: 3\.2\.0 is already current in Production/);
  });

  it('runs a slot missed by less than the catch-up window', async () => {
    const config = configWith();
    const clock = new ManualClock(beforeSlot);
    const runtime = await runtimeFor(config, clock);
    const promotion = findPromotion(config, 'nightly');
    await schedulePromotion(runtime, promotion, silentLog);
    clock.set('2026-11-20T18:40:00Z'); // the app was down from 17:59 to 18:40; the window is 60 minutes
    const outcomes = await schedulePromotion(runtime, promotion, silentLog);
    expect(outcomes.map((o) => [o.slot, o.state])).toEqual([['2026-11-20T18:00Z', 'started']]);
  });

  it('records and reports a slot missed by more than the window, and does not run it', async () => {
    const config = configWith();
    const clock = new ManualClock(beforeSlot);
    const runtime = await runtimeFor(config, clock);
    const promotion = findPromotion(config, 'nightly');
    await schedulePromotion(runtime, promotion, silentLog);
    clock.set('2026-11-20T19:30:00Z');
    const outcomes = await schedulePromotion(runtime, promotion, silentLog);
    expect(outcomes.map((o) => [o.slot, o.state])).toEqual([['2026-11-20T18:00Z', 'missed']]);
    expect(await deploymentsOf(runtime, 'Database', 'Production')).toHaveLength(1);
    expect(mail.map((m) => m.subject)).toEqual(['Promotion "nightly" missed 1 scheduled slot(s)']);
    // The slot in the promotion's own zone, as people read it, and the email is a whole document.
    expect(mail[0]?.text).toContain('- Fri, 20 Nov 2026, 18:00 GMT');
    expect(mail[0]?.html).toMatch(/^<!DOCTYPE html>/);
    // Reported once: a later pass does not report it again.
    clock.set('2026-11-20T19:31:00Z');
    await schedulePromotion(runtime, promotion, silentLog);
    expect(mail).toHaveLength(1);
    expect((await new SlotStore(runtime.tables).get('nightly', '2026-11-20T18:00Z'))?.state).toBe(
      'missed',
    );
  });

  it('does not promote inside a freeze window, and says why', async () => {
    const config = configWith({
      freezeWindows: [
        {
          start: '2026-11-20T12:00',
          end: '2026-11-21T00:00',
          timeZone: 'Europe/London',
          reason: 'Black Friday',
        },
      ],
    });
    const clock = new ManualClock(beforeSlot);
    const runtime = await runtimeFor(config, clock);
    const promotion = findPromotion(config, 'nightly');
    await schedulePromotion(runtime, promotion, silentLog);
    clock.set(atSlot);
    const [outcome] = await schedulePromotion(runtime, promotion, silentLog);
    expect(outcome?.state).toBe('blocked');
    expect(outcome?.detail).toMatch(/freeze window .*Black Friday/);
    expect(await deploymentsOf(runtime, 'Database', 'Production')).toHaveLength(1);
    expect(mail[0]?.subject).toBe('Promotion "nightly" did not run (Fri, 20 Nov 2026, 18:00 GMT)');
    expect(mail[0]?.text).toContain('Black Friday');
  });

  it('is stopped by a condition, with the condition reason', async () => {
    const config = configWith(
      { conditions: ['db-is-new'] },
      {
        conditions: { 'db-is-new': { type: 'minVersion', project: 'Database', atLeast: '1.10.0' } },
      },
    );
    const clock = new ManualClock(atSlot);
    const runtime = await runtimeFor(config, clock);
    const plan = await readPromotionPlan(
      runtime.octopus ?? (undefined as never),
      config,
      findPromotion(config, 'nightly'),
      atSlot,
    );
    expect(plan.blockers).toEqual([
      'condition db-is-new: Database is at 1.4.0 in Production; it needs 1.10.0 or higher',
    ]);
    const outcome = await runPromotionSlot(
      runtime,
      findPromotion(config, 'nightly'),
      '2026-11-20T18:00Z',
      {
        by: 'test',
        log: silentLog,
        trigger: 'manual',
      },
    );
    expect(outcome.state).toBe('blocked');
    expect(await deploymentsOf(runtime, 'Database', 'Production')).toHaveLength(1);
  });

  it('never moves the target back to an older release', async () => {
    const config = configWith();
    const runtime = await runtimeFor(config, new ManualClock(atSlot));
    const octopus = runtime.octopus;
    if (!octopus) throw new Error('no octopus');
    const projectId = await octopus.resolve.projectId('Database');
    const deploy = async (version: string, environment: string) => {
      const release = await octopus.releases.byVersion(projectId, version);
      const d = await octopus.deployments.create({
        ReleaseId: release?.Id ?? '',
        ProjectId: projectId,
        EnvironmentId: await octopus.resolve.environmentId(environment),
        Comments: `test: ${version} to ${environment}`,
      });
      for (let i = 0; i < 200 && (await octopus.tasks.get(d.TaskId)).State !== 'Success'; i++)
        await new Promise((r) => setTimeout(r, 25));
    };
    await deploy('1.5.0', 'Production');
    await deploy('1.4.0', 'Test'); // Test now has an older Database than Production
    const plan = await readPromotionPlan(octopus, config, findPromotion(config, 'nightly'), atSlot);
    const db = plan.stages.flatMap((s) => s.items).find((i) => i.project === 'Database');
    expect(db).toMatchObject({ action: 'skip', release: { version: '1.4.0' } });
    expect(db?.reason).toBe(
      'would move Production back from 1.5.0 to 1.4.0; a promotion never downgrades',
    );
  });

  it('requires successful source deployments unless told otherwise', async () => {
    sim.script({ project: 'Web API', environment: 'Test', outcome: 'fail' });
    const config = configWith();
    const runtime = await runtimeFor(config, new ManualClock(atSlot));
    const octopus = runtime.octopus;
    if (!octopus) throw new Error('no octopus');
    // Web API 2.16.0 fails in Test now: the source is not successful.
    const release = await octopus.releases.byVersion(
      await octopus.resolve.projectId('Web API'),
      '2.16.0',
    );
    await octopus.deployments.create({
      ReleaseId: release?.Id ?? '',
      ProjectId: release?.ProjectId ?? '',
      EnvironmentId: await octopus.resolve.environmentId('Test'),
      Comments: 'test: failing source',
    });
    let plan = await readPromotionPlan(octopus, config, findPromotion(config, 'nightly'), atSlot);
    expect(plan.blockers.join('\n')).toMatch(
      /Web API 2\.16\.0 in Test is (still Queued|still Executing|Failed)/,
    );

    const lenient = configWith({ requireSuccessfulSource: false });
    plan = await readPromotionPlan(octopus, lenient, findPromotion(lenient, 'nightly'), atSlot);
    expect(plan.blockers).toEqual([]);
    // The last successful release in Test (2.17.0) is promoted; 2.16.0 would be a no-op anyway.
    const api = plan.stages.flatMap((s) => s.items).find((i) => i.project === 'Web API');
    expect(api?.action).toBe('deploy');
    expect(api?.release?.version).toBe('2.17.0');
  });
});

describe('conditions API', () => {
  it('answers true, or false with each reason', async () => {
    const config = configWith(
      {},
      { conditions: { 'api-recent': { type: 'minVersion', project: 'Web API', atLeast: '2.17' } } },
    );
    setRuntime(await runtimeFor(config, new ManualClock(atSlot)));
    const ask = async (body: unknown) => {
      const response = await checkConditionHandler(
        new HttpRequest({
          method: 'POST',
          url: 'http://localhost/api/conditions/check',
          body: { string: JSON.stringify(body) },
        }),
        new InvocationContext(),
      );
      return response.jsonBody as { ok: boolean; reasons?: string[] };
    };
    expect(await ask({ condition: 'api-recent', environment: 'Test' })).toMatchObject({ ok: true });
    expect(await ask({ condition: 'api-recent', environment: 'Production' })).toMatchObject({
      ok: false,
      reasons: ['api-recent: Web API is at 2.16.0 in Production; it needs 2.17 or higher'],
    });
    const inline = await ask({
      condition: {
        type: 'allOf',
        conditions: [
          { type: 'setCurrent', set: 'web-stack', environment: 'Production' },
          { type: 'noActiveDeployment', set: 'web-stack' },
        ],
      },
      environment: 'Production',
    });
    expect(inline).toMatchObject({ ok: true });
  });
});

describe('cooperating projects', () => {
  it('three concurrent ensure-deployed calls cause one deployment, then report it current', async () => {
    const config = configWith();
    const clock = new ManualClock(atSlot);
    const prefix = uniqueTablePrefix();
    const instances = await Promise.all([0, 1, 2].map(() => runtimeFor(config, clock, prefix)));
    const call = async (runtime: Runtime) => {
      setRuntime(runtime);
      const request = new HttpRequest({
        method: 'POST',
        url: 'http://localhost/api/ensure-deployed',
        body: { string: JSON.stringify({ project: 'Database', environment: 'Production' }) },
      });
      return ensureDeployedHandler(request, new InvocationContext());
    };
    const answers = await Promise.all(instances.map(call));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
    const bodies = answers.map(
      (a) => a.jsonBody as { runId: string; started: boolean; release: string },
    );
    expect(new Set(bodies.map((b) => b.runId)).size).toBe(1);
    expect(bodies.filter((b) => b.started)).toHaveLength(1);
    expect(bodies[0]?.release).toBe('1.5.0'); // the newest release the lifecycle allows into Production

    const [first] = instances;
    if (!first) throw new Error('no instance');
    const run = await runToEnd(first, bodies[0]?.runId ?? '');
    expect(run.status).toBe('succeeded');
    const created = (await deploymentsOf(first, 'Database', 'Production')).filter((d) =>
      d.Comments?.includes('coordinator run='),
    );
    expect(created).toHaveLength(1);

    const again = await call(first);
    expect(again.status).toBe(200);
    expect(again.jsonBody).toMatchObject({ status: 'current', release: '1.5.0' });
  });

  it('ensure-deployed deploys nothing when its condition does not hold, and says why', async () => {
    setRuntime(await runtimeFor(configWith(), new ManualClock(atSlot)));
    const response = (await jsonApi(ensureDeployedHandler)(
      new HttpRequest({
        method: 'POST',
        url: 'http://localhost/api/ensure-deployed',
        body: {
          string: JSON.stringify({
            project: 'Web API',
            environment: 'Production',
            condition: { type: 'minVersion', project: 'Database', atLeast: '1.5.0' },
          }),
        },
      }),
      new InvocationContext(),
    )) as HttpResponseInit;
    expect(response.status).toBe(409);
    expect(JSON.stringify(response.jsonBody)).toContain(
      'Database is at 1.4.0 in Production; it needs 1.5.0 or higher',
    );
  });

  it('ensure-deployed with a mistyped project answers 400 naming it and the known names, not a 500', async () => {
    setRuntime(await runtimeFor(configWith(), new ManualClock(atSlot)));
    const response = (await jsonApi(ensureDeployedHandler)(
      new HttpRequest({
        method: 'POST',
        url: 'http://localhost/api/ensure-deployed',
        body: { string: JSON.stringify({ project: 'Web Ap', environment: 'Production' }) },
      }),
      new InvocationContext(),
    )) as HttpResponseInit;
    expect(response.status).toBe(400);
    expect(response.jsonBody).toMatchObject({ error: { code: 'unknown_name' } });
    expect(JSON.stringify(response.jsonBody)).toContain("'Web Ap' was not found");
    expect(JSON.stringify(response.jsonBody)).toContain('known: ');
  });

  it('progress waits until the step asked for is done', async () => {
    sim.setStepDuration({ ms: 1500, project: 'Web App' });
    const config = configWith();
    const runtime = await runtimeFor(config, new ManualClock(atSlot));
    setRuntime(runtime);
    const octopus = runtime.octopus;
    if (!octopus) throw new Error('no octopus');
    const projectId = await octopus.resolve.projectId('Web App');
    const release = await octopus.releases.byVersion(projectId, '3.2.0');
    await octopus.deployments.create({
      ReleaseId: release?.Id ?? '',
      ProjectId: projectId,
      EnvironmentId: await octopus.resolve.environmentId('Production'),
      Comments: 'test: redeploy',
    });
    const response = await progressHandler(
      new HttpRequest({
        method: 'GET',
        url: 'http://localhost/api/progress?project=Web%20App&environment=Production&step=2&waitSeconds=30',
      }),
      new InvocationContext(),
    );
    expect(response.status).toBe(200);
    const body = response.jsonBody as {
      step: { number: number; done: boolean; succeeded: boolean };
      taskFinished: boolean;
      steps: { status: string }[];
    };
    expect(body.step).toMatchObject({ number: 2, done: true, succeeded: true });
    expect(body.taskFinished).toBe(false);
    expect(body.steps[2]?.status).not.toBe('Success');

    const unknown = (await jsonApi(progressHandler)(
      new HttpRequest({
        method: 'GET',
        url: 'http://localhost/api/progress?project=Web%20App&environment=Production&step=9',
      }),
      new InvocationContext(),
    )) as HttpResponseInit;
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.jsonBody)).toContain('there is no step 9');
  });
});

describe('promote CLI', () => {
  it('prints the dry-run plan: stages, releases, skips and what would stop it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'promote-cli-'));
    const file = join(dir, 'coordination.json');
    writeFileSync(
      file,
      JSON.stringify({
        projectSets: {
          'web-stack': {
            projects: ['Web App', 'Web API', 'Database'],
            dependsOn: { 'Web App': ['Web API'], 'Web API': ['Database'] },
          },
        },
        promotions: [
          {
            name: 'nightly',
            set: 'web-stack',
            from: 'Test',
            to: 'Production',
            cron: '0 0 18 * * *',
            freezeWindows: [{ start: '2026-12-24', end: '2026-12-27', reason: 'Christmas' }],
          },
        ],
      }),
    );
    let out = '';
    let err = '';
    const env = {
      AzureWebJobsStorage: azuriteConnectionString(),
      OCTOPUS_URL: sim.url,
      OCTOPUS_API_KEY: sim.apiKey,
      COORDINATION_CONFIG: file,
    };
    const io = { out: (t: string) => (out += t), err: (t: string) => (err += t), env };
    expect(
      await runCli(
        ['promote', '--promotion', 'nightly', '--dry-run', '--at', '2026-12-25T18:00:00Z'],
        io,
      ),
    ).toBe(0);
    expect(out).toContain('Dry run: nothing is deployed.');
    expect(out).toMatch(
      /Stage 1: Database\n\s+- Database: deploy 1\.5\.0: 1\.5\.0 is current and successful in Test \(Production has 1\.4\.0\)/,
    );
    expect(out).toMatch(
      /Stage 3: Web App\n\s+- Web App: skip: 3\.2\.0 is already current in Production/,
    );
    expect(out).toContain(
      'a freeze window is in force from 2026-12-24 to 2026-12-27 (UTC): Christmas',
    );
    expect(await runCli(['promote', '--promotion', 'weekly', '--dry-run'], io)).toBe(2);
    expect(err).toContain('There is no promotion "weekly"');
  });
});

describe('POST /api/runs with a promotion', () => {
  const post = (body: unknown) =>
    jsonApi(startRunHandler)(
      new HttpRequest({
        method: 'POST',
        url: 'http://localhost/api/runs',
        body: { string: JSON.stringify(body) },
      }),
      new InvocationContext(),
    ) as Promise<HttpResponseInit>;

  it('shows the plan with dryRun, starts it now once per minute, and refuses bad names', async () => {
    const runtime = await runtimeFor(configWith(), new ManualClock(beforeSlot));
    setRuntime(runtime);

    const dry = await post({ promotion: 'nightly', dryRun: true });
    expect(dry.status).toBe(200);
    expect((dry.jsonBody as { text: string }).text).toMatch(/Database/);
    expect(await deploymentsOf(runtime, 'Database', 'Production')).toHaveLength(1);

    const started = await post({ promotion: 'nightly', requestedBy: 'alice' });
    expect(started.status).toBe(201);
    const { runId } = started.jsonBody as { runId: string };
    const again = await post({ promotion: 'nightly' });
    expect(again).toMatchObject({ status: 200, jsonBody: { state: 'alreadyClaimed', runId } });
    expect((await runToEnd(runtime, runId)).status).toBe('succeeded');

    expect((await post({ promotion: 'weekly' })).status).toBe(404);
    const both = await post({ promotion: 'nightly', playbook: 'x' });
    expect(both.status).toBe(400);
    expect((both.jsonBody as { error: { message: string } }).error.message).toMatch(
      /either "playbook" or "promotion"/,
    );
  });
});
