// End to end: playbook runs on the Octopus simulator with real Table Storage (Azurite) and the real
// SendGrid SDK against a local fake. Short step durations keep each run to a second or two.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  sampleScenario,
  startOctopusSimulator,
  type OctopusSimulator,
} from '../../dev/octopus-sim/index.js';
import { wireSimulatorToCoordinator } from '../../dev/wireSimulator.js';
import {
  cancelRunHandler,
  getRunHandler,
  listRunsHandler,
  startRunHandler,
} from '../../functions/runs.js';
import { coordinationConfigSchema } from '../../shared/config/coordination/schema.js';
import { immediateProcessingIdle } from '../../shared/events/queue.js';
import { collect } from '../../shared/octopus/paging.js';
import { dashboardCell } from '../../shared/octopus/dashboard.js';
import type { Deployment } from '../../shared/octopus/deployments.js';
import { silentLog } from '../../shared/runtime/log.js';
import { createRuntime, setRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { advanceRun, startRun } from '../../shared/runs/advance.js';
import { planFromPlaybook } from '../../shared/runs/plan.js';
import { RunStore } from '../../shared/runs/store.js';
import type { RunState } from '../../shared/runs/types.js';
import type { RunView } from '../../shared/runs/view.js';
import { pollOnce } from '../../shared/app/poll.js';
import { startFakeSendGrid, type FakeSendGrid } from '../helpers/fakeSendGrid.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';
import {
  startCoordinatorInstance,
  type CoordinatorInstance,
} from '../helpers/webhookCoordinator.js';

const scenario = { ...sampleScenario, stepDurationMs: 60, webhookBatchIntervalMs: 60_000 };

const rawConfig = {
  space: 'Default',
  projectSets: { 'web-stack': { projects: ['Database', 'Web API', 'Web App'] } },
  playbooks: {
    'release-web-stack': {
      stages: [
        {
          name: 'Backend',
          actions: [
            { type: 'deploy', id: 'db', project: 'Database', environment: 'Production' },
            { type: 'deploy', id: 'api', project: 'Web API', environment: 'Production' },
          ],
        },
        {
          name: 'Announce',
          actions: [
            {
              type: 'notify',
              id: 'tell',
              to: ['team@example.com'],
              subject: 'Backend of {{name}} is live in {environment}',
              body: 'Releases: {releases}.\nRun {run.id} is {status}: {runUrl}',
            },
          ],
        },
        {
          name: 'Frontend',
          actions: [
            { type: 'check', id: 'api-recent', condition: 'api-is-recent' },
            { type: 'deploy', id: 'web', project: 'Web App', environment: 'Production' },
          ],
        },
      ],
      onFailure: [{ type: 'redeployPrevious', projects: ['Database', 'Web API'] }],
      timeoutMinutes: 10,
      recipients: ['release-managers@example.com'],
    },
  },
  conditions: { 'api-is-recent': { type: 'minVersion', project: 'Web API', atLeast: '2.18.0' } },
};
const config = coordinationConfigSchema.parse(rawConfig);
const playbook = 'release-web-stack';

let sim: OctopusSimulator;
let mail: FakeSendGrid;
let tablePrefix: string;
let instances: CoordinatorInstance[] = [];

function env(): NodeJS.ProcessEnv {
  return {
    AzureWebJobsStorage: azuriteConnectionString(),
    OCTOPUS_URL: sim.url,
    OCTOPUS_API_KEY: sim.apiKey,
    SENDGRID_API_KEY: 'SG.fake-key',
    SENDGRID_API_URL: mail.url,
    MAIL_FROM: 'coordinator@example.com',
    PUBLIC_URL: 'https://coordinator.example.com/',
    REPORT_TIME_ZONE: 'Europe/Berlin',
    WEBHOOK_SECRET: 'runs-secret',
    WEBHOOK_SECRET_HEADER: 'X-Coordinator-Secret',
  };
}

const newRuntime = (): Promise<Runtime> => createRuntime({ env: env(), config, tablePrefix });

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0 });
  mail = await startFakeSendGrid();
});

afterAll(async () => {
  setRuntime(undefined);
  await sim.stop();
  await mail.stop();
});

beforeEach(() => {
  sim.loadScenario(scenario);
  sim.faults({ clear: true });
  mail.received.length = 0;
  tablePrefix = uniqueTablePrefix();
});

afterEach(async () => {
  for (const i of instances) {
    await immediateProcessingIdle(i.runtime);
    await i.stop();
  }
  instances = [];
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const finished = (s: RunState | undefined) =>
  s !== undefined &&
  ['succeeded', 'failed', 'cancelled'].includes(s.status) &&
  !['pending', 'sending'].includes(s.finishedMail.status);

/** Advance until the run has finished (what the status poll does every minute, here every 50 ms). */
async function advanceUntilDone(
  runtime: Runtime,
  runId: string,
  advance: () => Promise<unknown> = () => advanceRun(runtime, runId),
): Promise<RunState> {
  const until = Date.now() + 45_000;
  for (;;) {
    await advance();
    const stored = await new RunStore(runtime.tables).get(runId);
    if (stored && finished(stored.state)) return stored.state;
    if (Date.now() > until)
      throw new Error(
        `run ${runId} did not finish: ${JSON.stringify(stored?.state.history.slice(-5))}`,
      );
    await sleep(50);
  }
}

async function current(runtime: Runtime, project: string, environment = 'Production') {
  const octopus = runtime.octopus;
  if (!octopus) throw new Error('no octopus');
  const projectId = await octopus.resolve.projectId(project);
  const environmentId = await octopus.resolve.environmentId(environment);
  const dashboard = await octopus.dashboard.dynamic({
    projects: [projectId],
    environments: [environmentId],
    includePrevious: true,
  });
  const cell = dashboardCell(dashboard, { projectId, environmentId });
  return { version: cell.current?.ReleaseVersion, state: cell.current?.State };
}

async function deploymentsOfRun(runtime: Runtime, runId: string): Promise<Deployment[]> {
  const octopus = runtime.octopus;
  if (!octopus) throw new Error('no octopus');
  const all = await collect(octopus.deployments.list({ maxItems: 500 }));
  return all.filter((d) => (d.Comments ?? '').includes(`run=${runId} `));
}

/** At most one Octopus deployment per action of the run (the whole point of intents and markers). */
function expectOneDeploymentPerAction(deployments: Deployment[]): void {
  const byAction = new Map<string, number>();
  for (const d of deployments) {
    const action = /action=(\S+)/.exec(d.Comments ?? '')?.[1] ?? '?';
    byAction.set(action, (byAction.get(action) ?? 0) + 1);
  }
  for (const [action, count] of byAction) expect(count, `deployments of action ${action}`).toBe(1);
}

function request(
  method: string,
  url: string,
  body?: unknown,
  params: Record<string, string> = {},
): HttpRequest {
  return new HttpRequest({
    method,
    url: `http://127.0.0.1${url}`,
    headers: { 'content-type': 'application/json' },
    params,
    body: body === undefined ? undefined : { string: JSON.stringify(body) },
  });
}

describe('runs on the simulator', () => {
  it('runs the seed flow through the HTTP API: stage by stage, then one email saying it succeeded', async () => {
    const runtime = await newRuntime();
    setRuntime(runtime);
    const started = await startRunHandler(
      request('POST', '/api/runs', { playbook, requestedBy: 'sam' }),
      new InvocationContext(),
    );
    expect(started.status).toBe(201);
    const id = (started.jsonBody as RunView).id;

    const state = await advanceUntilDone(runtime, id);
    expect(state.status).toBe('succeeded');
    expect(await current(runtime, 'Database')).toEqual({ version: '1.6.0', state: 'Success' });
    expect(await current(runtime, 'Web API')).toEqual({ version: '2.18.0', state: 'Success' });
    expect(await current(runtime, 'Web App')).toEqual({ version: '3.2.0', state: 'Success' });

    const deployments = await deploymentsOfRun(runtime, id);
    expect(deployments.map((d) => d.Comments).sort()).toEqual([
      `coordinator run=${id} action=api attempt=1`,
      `coordinator run=${id} action=db attempt=1`,
      `coordinator run=${id} action=web attempt=1`,
    ]);

    const view = (
      await getRunHandler(
        request('GET', `/api/runs/${id}`, undefined, { id }),
        new InvocationContext(),
      )
    ).jsonBody as RunView;
    expect(view.stages.map((s) => [s.name, s.status])).toEqual([
      ['Backend', 'succeeded'],
      ['Announce', 'succeeded'],
      ['Frontend', 'succeeded'],
    ]);
    const db = view.stages[0]?.actions.find((a) => a.id === 'db');
    expect(db).toMatchObject({ release: { version: '1.6.0' }, taskState: 'Success' });
    expect(db?.taskLink).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/app#\//);
    expect(view.previous).toEqual(
      expect.arrayContaining([expect.objectContaining({ project: 'Web API', version: '2.16.0' })]),
    );

    const list = (
      await listRunsHandler(request('GET', '/api/runs?state=succeeded'), new InvocationContext())
    ).jsonBody as { runs: { id: string }[] };
    expect(list.runs.map((r) => r.id)).toEqual([id]);

    const subjects = mail.received.map((m) => m.body.subject);
    expect(subjects).toContain('Backend of release-web-stack is live in Production');
    expect(subjects.filter((s) => s.includes('succeeded'))).toEqual([
      `Playbook "release-web-stack" in Production succeeded (run ${id})`,
    ]);
    // The notify email's placeholders say what this run did, and both parts link to it.
    const notify = mail.received.find((m) => m.body.subject.startsWith('Backend of'));
    const part = (type: string) => notify?.body.content.find((c) => c.type === type)?.value ?? '';
    expect(part('text/plain')).toContain('Releases: Database 1.6.0, Web API ');
    expect(part('text/plain')).toContain(
      `Run ${id} is running: https://coordinator.example.com/api/runs/${id}`,
    );
    expect(part('text/plain')).not.toMatch(/\{[a-zA-Z.]+\}/);
    expect(part('text/html')).toMatch(/^<!DOCTYPE html>/);
    expect(part('text/html')).toContain(`href="https://coordinator.example.com/api/ui#run-${id}"`);
    // Times in REPORT_TIME_ZONE, not raw ISO.
    expect(part('text/plain')).toMatch(/started \w{3}, \d{1,2} \w{3} \d{4}, \d{2}:\d{2} CET/);
    expect(part('text/plain')).not.toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:/);
  });

  it('rolls A and B back to exactly their previous releases when C fails at step 2', async () => {
    const runtime = await newRuntime();
    sim.script({ project: 'Web App', environment: 'Production', failAtStep: 2 });
    const { state: first } = await startRun(runtime, planFromPlaybook(config, playbook), {
      kind: 'api',
    });
    const state = await advanceUntilDone(runtime, first.id);

    expect(state.status).toBe('failed');
    expect(state.failure?.actionId).toBe('web');
    expect(state.onFailure.status).toBe('succeeded');
    // Before the run: Database 1.5.0; Web API 2.16.0 (its 2.17.0 deployment had failed).
    expect(await current(runtime, 'Database')).toEqual({ version: '1.5.0', state: 'Success' });
    expect(await current(runtime, 'Web API')).toEqual({ version: '2.16.0', state: 'Success' });
    expect((await current(runtime, 'Web App')).state).toBe('Failed');
    const rollbacks = (await deploymentsOfRun(runtime, state.id)).filter((d) =>
      (d.Comments ?? '').includes('action=onFailure'),
    );
    expect(rollbacks).toHaveLength(2);
    const finishedMail = mail.received.find((m) =>
      m.body.subject.includes('failed and was rolled back'),
    );
    expect(finishedMail?.body.content.find((c) => c.type === 'text/plain')?.value).toMatch(
      /Why: web \(deploy Web App to Production\): The deployment failed at Step 2/,
    );
  });

  it('after a SIGKILL between creating a deployment and recording it, resumes without a second deployment', async () => {
    const runtime = await newRuntime();
    const { state: created } = await startRun(
      runtime,
      planFromPlaybook(config, playbook),
      { kind: 'api' },
      { advance: false },
    );
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL('./fixtures/runsCrashChild.mjs', import.meta.url))],
      {
        env: {
          ...process.env,
          ...env(),
          CRASH_CONFIG: JSON.stringify(rawConfig),
          CRASH_TABLE_PREFIX: tablePrefix,
          CRASH_RUN_ID: created.id,
          CRASH_LEASE_SECONDS: '2',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, s) => resolve(s)),
    );
    expect(signal, stderr).toBe('SIGKILL');

    const afterCrash = await new RunStore(runtime.tables).get(created.id);
    const starting =
      afterCrash?.state.stages[0]?.actions.filter((a) => a.status === 'starting') ?? [];
    expect(starting.length).toBeGreaterThan(0); // intents recorded, outcomes not
    expect((await deploymentsOfRun(runtime, created.id)).length).toBeGreaterThan(0); // and Octopus has at least one

    const state = await advanceUntilDone(runtime, created.id);
    expect(state.status).toBe('succeeded');
    expect(
      state.history.some((h) => h.message.includes('found the one created before a restart')),
    ).toBe(true);
    const deployments = await deploymentsOfRun(runtime, created.id);
    expect(deployments).toHaveLength(3);
    expectOneDeploymentPerAction(deployments);
  });

  it('stays correct with two instances advancing the same run at once', async () => {
    const a = await newRuntime();
    const b = await newRuntime();
    expect(a.instanceId).not.toBe(b.instanceId);
    const { state: created } = await startRun(
      a,
      planFromPlaybook(config, playbook),
      { kind: 'api' },
      { advance: false },
    );
    const state = await advanceUntilDone(a, created.id, async () => {
      await Promise.all([
        advanceRun(a, created.id),
        advanceRun(b, created.id),
        advanceRun(a, created.id),
      ]);
    });
    expect(state.status).toBe('succeeded');
    const deployments = await deploymentsOfRun(a, created.id);
    expect(deployments).toHaveLength(3);
    expectOneDeploymentPerAction(deployments);
    expect(mail.received.filter((m) => m.body.subject.includes('succeeded'))).toHaveLength(1);
    expect(mail.received.filter((m) => m.body.subject.includes('Backend of'))).toHaveLength(1);
  });

  it('advances at once on a webhook event, and by the status poll when the webhook is lost', async () => {
    const instance = await startCoordinatorInstance({ env: env(), config, tablePrefix });
    instances.push(instance);
    await wireSimulatorToCoordinator({
      simulatorUrl: sim.url,
      apiKey: sim.apiKey,
      coordinatorUrl: instance.url,
      header: 'X-Coordinator-Secret',
      secret: 'runs-secret',
      name: 'Runs',
    });
    const runtime = instance.runtime;
    const { state: created } = await startRun(runtime, planFromPlaybook(config, playbook), {
      kind: 'api',
    });
    const store = new RunStore(runtime.tables);

    // The backend deployments finish; their webhooks alone move the run on to the frontend stage.
    await sleep(600);
    await sim.flushWebhooks();
    await immediateProcessingIdle(runtime);
    const afterWebhook = await store.get(created.id);
    expect(afterWebhook?.state.stageIndex).toBe(2);

    // Every further webhook is lost: only the poll can finish the run.
    sim.faults({ type: 'webhook', mode: 'drop', count: 0 });
    await sleep(600);
    await sim.flushWebhooks();
    await immediateProcessingIdle(runtime);
    const stuck = await store.get(created.id);
    expect(stuck?.state.status).toBe('running');

    let state = stuck?.state;
    for (let i = 0; i < 50 && !finished(state); i++) {
      await pollOnce(runtime, silentLog);
      state = (await store.get(created.id))?.state;
      if (!finished(state)) await sleep(100);
    }
    expect(state?.status).toBe('succeeded');
  });

  it('starts a playbook once when a configured rule matches an event, even if the event arrives twice', async () => {
    const withRule = coordinationConfigSchema.parse({
      ...rawConfig,
      rules: [
        {
          name: 'after-database-dev',
          when: { project: 'Database', environment: 'Development' },
          start: playbook,
        },
      ],
    });
    const instance = await startCoordinatorInstance({ env: env(), config: withRule, tablePrefix });
    instances.push(instance);
    await wireSimulatorToCoordinator({
      simulatorUrl: sim.url,
      apiKey: sim.apiKey,
      coordinatorUrl: instance.url,
      header: 'X-Coordinator-Secret',
      secret: 'runs-secret',
      name: 'Rules',
    });
    const octopus = instance.runtime.octopus;
    if (!octopus) throw new Error('no octopus');
    const projectId = await octopus.resolve.projectId('Database');
    const release = await octopus.releases.byVersion(projectId, '1.6.0');
    if (!release) throw new Error('no release');
    sim.faults({ type: 'webhook', mode: 'duplicate', category: 'DeploymentSucceeded' });
    await octopus.deployments.create({
      ProjectId: projectId,
      ReleaseId: release.Id,
      EnvironmentId: await octopus.resolve.environmentId('Development'),
    });
    await sleep(400);
    await sim.flushWebhooks();
    await immediateProcessingIdle(instance.runtime);
    const runs = await new RunStore(instance.runtime.tables).list();
    expect(runs).toHaveLength(1);
    const stored = await new RunStore(instance.runtime.tables).get(runs[0]?.id ?? '');
    expect(stored?.state.trigger).toMatchObject({ kind: 'rule', by: 'after-database-dev' });
  });

  it('gets through Octopus answering 500s and 429s for a while', async () => {
    const runtime = await newRuntime();
    const { state: created } = await startRun(
      runtime,
      planFromPlaybook(config, playbook),
      { kind: 'api' },
      { advance: false },
    );
    sim.faults({
      faults: [
        { type: 'error', status: 500, count: 4 },
        { type: 'rateLimit', retryAfterSeconds: 0.2, count: 4 },
        { type: 'error', status: 503, path: '/deployments$', method: 'POST', count: 2 },
      ],
    });
    const state = await advanceUntilDone(runtime, created.id);
    expect(state.status).toBe('succeeded');
    const deployments = await deploymentsOfRun(runtime, created.id);
    expect(deployments).toHaveLength(3);
    expectOneDeploymentPerAction(deployments);
  }, 60_000);

  it('cancels mid-stage: cancels the tasks it started, then puts back what was there before', async () => {
    const runtime = await newRuntime();
    setRuntime(runtime);
    sim.setStepDuration({ ms: 60_000, project: 'Database' });
    const { state: created } = await startRun(runtime, planFromPlaybook(config, playbook), {
      kind: 'api',
    });
    const db = created.stages[0]?.actions.find((a) => a.id === 'db');
    expect(db?.status).toBe('running');

    const answer = await cancelRunHandler(
      request(
        'POST',
        `/api/runs/${created.id}/cancel`,
        { by: 'sam', reason: 'wrong day' },
        { id: created.id },
      ),
      new InvocationContext(),
    );
    expect(answer.status).toBe(202);
    sim.setStepDuration({ ms: 60, project: 'Database' });
    const state = await advanceUntilDone(runtime, created.id);

    expect(state.status).toBe('cancelled');
    const dbAfter = state.stages[0]?.actions.find((a) => a.id === 'db');
    expect(dbAfter).toMatchObject({ status: 'cancelled', taskState: 'Canceled' });
    expect(state.stages.slice(1).map((s) => s.status)).toEqual(['skipped', 'skipped']);
    expect(await current(runtime, 'Database')).toEqual({ version: '1.5.0', state: 'Success' });
    await expect(
      cancelRunHandler(
        request('POST', `/api/runs/${created.id}/cancel`, {}, { id: created.id }),
        new InvocationContext(),
      ),
    ).rejects.toMatchObject({ status: 409, code: 'run_finished' });
    expect(mail.received.some((m) => m.body.subject.includes('was cancelled'))).toBe(true);
  });

  it('a dry run returns the exact releases and why, and deploys nothing', async () => {
    const runtime = await newRuntime();
    setRuntime(runtime);
    const octopus = runtime.octopus;
    if (!octopus) throw new Error('no octopus');
    const before = (await collect(octopus.deployments.list({ maxItems: 500 }))).length;
    const answer = await startRunHandler(
      request('POST', '/api/runs', { playbook, dryRun: true }),
      new InvocationContext(),
    );
    expect(answer.status).toBe(200);
    const plan = answer.jsonBody as {
      wouldFail: boolean;
      stages: {
        actions: { id: string; release?: { version: string }; outcome: string; why: string }[];
      }[];
    };
    const deploys = plan.stages.flatMap((s) => s.actions).filter((a) => a.release);
    expect(deploys.map((a) => [a.id, a.release?.version, a.outcome])).toEqual([
      ['db', '1.6.0', 'deploy'],
      ['api', '2.18.0', 'deploy'],
      ['web', '3.2.0', 'deploy'],
    ]);
    expect(deploys[1]?.why).toMatch(/2\.17\.0 \(Failed\) is current/);
    expect(plan.wouldFail).toBe(false);
    expect((await collect(octopus.deployments.list({ maxItems: 500 }))).length).toBe(before);
    expect(await new RunStore(runtime.tables).list()).toEqual([]);
  });

  it("refuses a release Octopus's lifecycle does not allow yet: the dry run says so, the run fails that action without creating it and rolls back", async () => {
    // 1.7.0 of Database is new: it has not been to Development, so Test is not open to it yet.
    sim.createRelease({ project: 'Database', version: '1.7.0' });
    const stages = {
      api: {
        name: 'API and workers',
        actions: [
          { type: 'deploy', id: 'api', project: 'Web API', environment: 'Production' },
          {
            type: 'deploy',
            id: 'billing',
            project: 'Billing Worker',
            environment: 'Production',
            tenants: ['Acme Corp', 'Globex'],
          },
        ],
      },
      dev: {
        name: 'Database to Development',
        actions: [
          { type: 'deploy', id: 'db-dev', project: 'Database', environment: 'Development' },
        ],
      },
      test: {
        name: 'Database to Test',
        actions: [{ type: 'deploy', id: 'db-test', project: 'Database', environment: 'Test' }],
      },
    };
    const withLifecycle = coordinationConfigSchema.parse({
      ...rawConfig,
      playbooks: {
        'too-early': {
          stages: [stages.api, stages.test],
          onFailure: [{ type: 'redeployPrevious', projects: ['Web API'] }],
          timeoutMinutes: 10,
        },
        'dev-then-test': { stages: [stages.dev, stages.test], timeoutMinutes: 10 },
      },
    });
    const runtime = await createRuntime({ env: env(), config: withLifecycle, tablePrefix });
    setRuntime(runtime);
    type Plan = {
      wouldFail: boolean;
      stages: {
        actions: { id: string; release?: { version: string }; outcome: string; why: string }[];
      }[];
    };
    const dryRun = async (name: string): Promise<Plan> => {
      const answer = await startRunHandler(
        request('POST', '/api/runs', { playbook: name, dryRun: true }),
        new InvocationContext(),
      );
      expect(answer.status).toBe(200);
      return answer.jsonBody as Plan;
    };

    sim.resetRequests();
    const plan = await dryRun('too-early');
    const actions = plan.stages.flatMap((s) => s.actions);
    expect(actions.map((a) => [a.id, a.release?.version, a.outcome])).toEqual([
      ['api', '2.18.0', 'deploy'],
      ['billing@Acme_Corp', '1.0.0', 'deploy'],
      ['billing@Globex', '1.0.0', 'deploy'],
      ['db-test', '1.7.0', 'refuse'],
    ]);
    expect(actions[3]?.why).toMatch(
      /^Octopus's lifecycle does not allow release 1\.7\.0 of Database into Test yet \(allowed: Development\)/,
    );
    expect(plan.wouldFail).toBe(true);
    // One template read per release: the two tenants of Billing Worker 1.0.0 share theirs.
    expect(sim.requests().byEndpoint['GET /api/{spaceId}/releases/{id}/deployments/template']).toBe(
      3,
    );

    // A playbook that takes 1.7.0 through Development first is not called a failure.
    const staged = await dryRun('dev-then-test');
    expect(staged.stages.flatMap((s) => s.actions).map((a) => [a.id, a.outcome])).toEqual([
      ['db-dev', 'deploy'],
      ['db-test', 'deploy'],
    ]);
    expect(staged.wouldFail).toBe(false);

    const { state: created } = await startRun(
      runtime,
      planFromPlaybook(withLifecycle, 'too-early'),
      {
        kind: 'api',
      },
    );
    const state = await advanceUntilDone(runtime, created.id);
    expect(state.status).toBe('failed');
    expect(state.failure?.actionId).toBe('db-test');
    expect(state.failure?.message).toMatch(
      /refused: Octopus's lifecycle does not allow release 1\.7\.0 of Database into Test yet \(allowed: Development\)/,
    );
    const dbTest = state.stages[1]?.actions[0];
    expect(dbTest).toMatchObject({ status: 'failed', attempt: 0 });
    expect(dbTest?.deploymentId).toBeUndefined();
    const actionsDeployed = (await deploymentsOfRun(runtime, state.id))
      .map((d) => /action=(\S+)/.exec(d.Comments ?? '')?.[1])
      .sort();
    expect(actionsDeployed).toEqual([
      'api',
      'billing@Acme_Corp',
      'billing@Globex',
      'onFailure.1.Web_API@Production',
    ]);
    expect(await current(runtime, 'Database', 'Test')).toEqual({
      version: '1.6.0',
      state: 'Success',
    });
    // The rollback to 2.16.0 is a release the lifecycle allows in Production, so it went ahead.
    expect(state.onFailure.status).toBe('succeeded');
    expect(await current(runtime, 'Web API')).toEqual({ version: '2.16.0', state: 'Success' });
  });
});
