// Stop the line against Azurite and the Octopus simulator: the freezes API (validation, a repeated
// request from two instances, lifting twice), a freeze set between a deploy's plan and its create (the
// race), a crash in the middle, Octopus's own freezes in plans, runs and the simulator, rollbacks
// through a freeze with priority, ensure-deployed's 409 and a promotion slot blocked by a freeze.
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startOctopusSimulator, type OctopusSimulator } from '../../dev/octopus-sim/index.js';
import { ensureDeployedHandler } from '../../functions/ensureDeployed.js';
import {
  liftFreezeHandler,
  listFreezesHandler,
  setFreezeHandler,
} from '../../functions/freezes.js';
import { startRunHandler } from '../../functions/runs.js';
import { coordinationConfigSchema } from '../../shared/config/coordination/schema.js';
import { setFreeze } from '../../shared/freezes/api.js';
import { jsonApi } from '../../shared/http/handler.js';
import { collect } from '../../shared/octopus/paging.js';
import { findPromotion } from '../../shared/promotion/readPlan.js';
import { runPromotionSlot } from '../../shared/promotion/schedule.js';
import { silentLog } from '../../shared/runtime/log.js';
import { createRuntime, setRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { advanceRun, startRun } from '../../shared/runs/advance.js';
import { planFromPlaybook } from '../../shared/runs/plan.js';
import { isTerminalRunStatus, type RunState } from '../../shared/runs/types.js';
import { webStackScenario } from '../helpers/scenarios.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';

const scenario = webStackScenario({
  steps: { database: ['Migrate'], webApi: ['Deploy API'] },
  stepDurationMs: 50,
});

const config = coordinationConfigSchema.parse({
  projectSets: {
    'web-stack': { projects: ['Web API', 'Database'], dependsOn: { 'Web API': ['Database'] } },
  },
  promotions: [
    {
      name: 'nightly',
      set: 'web-stack',
      from: 'Test',
      to: 'Production',
      cron: '0 0 18 * * *',
      rollbackOnFailure: true,
    },
  ],
  playbooks: {
    'api-to-production': {
      stages: [
        {
          name: 'API',
          actions: [
            {
              type: 'deploy',
              id: 'api',
              project: 'Web API',
              environment: 'Production',
              release: { version: '2.17.0' },
            },
          ],
        },
      ],
      timeoutMinutes: 30,
    },
  },
});

let sim: OctopusSimulator;

async function runtimeFor(prefix = uniqueTablePrefix()): Promise<Runtime> {
  return createRuntime({
    env: {
      AzureWebJobsStorage: azuriteConnectionString(),
      OCTOPUS_URL: sim.url,
      OCTOPUS_API_KEY: sim.apiKey,
    },
    config,
    tablePrefix: prefix,
  });
}

type Handler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;
async function call(
  handler: Handler,
  init: { method: string; body?: unknown; params?: Record<string, string>; query?: string },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await jsonApi(handler)(
    new HttpRequest({
      method: init.method,
      url: `http://localhost/api/freezes${init.query ?? ''}`,
      ...(init.body === undefined ? {} : { body: { string: JSON.stringify(init.body) } }),
      ...(init.params ? { params: init.params } : {}),
    }),
    new InvocationContext(),
  );
  const answer = response as HttpResponseInit;
  return { status: answer.status ?? 200, body: answer.jsonBody as Record<string, unknown> };
}

async function productionDeployments(runtime: Runtime, project: string) {
  const octopus = runtime.octopus;
  if (!octopus) throw new Error('no octopus');
  const projectId = await octopus.resolve.projectId(project);
  const environmentId = await octopus.resolve.environmentId('Production');
  return collect(
    octopus.deployments.list({ projects: [projectId], environments: [environmentId] }),
  );
}

async function advanceUntil(
  runtime: Runtime,
  runId: string,
  done: (s: RunState) => boolean,
): Promise<RunState> {
  for (let i = 0; i < 300; i++) {
    const { state } = await advanceRun(runtime, runId, { log: silentLog });
    if (state && done(state)) return state;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`run ${runId} never reached the expected state`);
}

const apiAction = (s: RunState) => s.stages[0]?.actions[0];

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0, idOffset: 0 });
});
afterAll(async () => {
  setRuntime(undefined);
  await sim?.stop();
});
beforeEach(() => {
  sim.loadScenario(scenario);
});

describe('the freezes API', () => {
  it('refuses bad input naming the field, and an environment Octopus does not have', async () => {
    setRuntime(await runtimeFor());
    const noReason = await call(setFreezeHandler, { method: 'POST', body: { by: 'alice' } });
    expect(noReason.status).toBe(400);
    expect(JSON.stringify(noReason.body)).toContain('reason');
    const badUntil = await call(setFreezeHandler, {
      method: 'POST',
      body: { reason: 'x', by: 'alice', until: 'tomorrow' },
    });
    expect(badUntil.status).toBe(400);
    expect(JSON.stringify(badUntil.body)).toContain('until');
    const past = await call(setFreezeHandler, {
      method: 'POST',
      body: { reason: 'x', by: 'alice', until: '2020-01-01T00:00:00Z' },
    });
    expect(past.status).toBe(400);
    expect(JSON.stringify(past.body)).toContain('until');
    const unknown = await call(setFreezeHandler, {
      method: 'POST',
      body: { reason: 'x', by: 'alice', environments: ['Prodution'] },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ error: { code: 'unknown_name' } });
    expect(JSON.stringify(unknown.body)).toContain('Production');
    // Nothing half written: no freeze exists after the refusals.
    const list = await call(listFreezesHandler, { method: 'GET' });
    expect(list.body.inForce).toEqual([]);
  });

  it('sets one freeze for one requestId from two instances at once, and lifts it once', async () => {
    const prefix = uniqueTablePrefix();
    const [a, b] = [await runtimeFor(prefix), await runtimeFor(prefix)];
    const body = {
      environments: ['Production'],
      reason: 'incident 42',
      by: 'oncall',
      requestId: 'inc-42',
    };
    const [one, two] = await Promise.all([
      setFreeze(a, { ...body, allowRollbacks: true }),
      setFreeze(b, { ...body, allowRollbacks: true }),
    ]);
    expect(one.freeze.id).toBe(two.freeze.id);
    expect([one.created, two.created].sort()).toEqual([false, true]);
    setRuntime(a);
    const listed = await call(listFreezesHandler, { method: 'GET' });
    expect(
      (listed.body.inForce as { id: string; environmentIds: string[] }[]).map((f) => f.id),
    ).toEqual([one.freeze.id]);
    expect(one.freeze.environmentIds).toEqual([
      await a.octopus?.resolve.environmentId('Production'),
    ]);
    const lift = await call(liftFreezeHandler, {
      method: 'DELETE',
      params: { id: one.freeze.id },
      body: { by: 'oncall', reason: 'resolved' },
    });
    expect(lift.status).toBe(200);
    expect(lift.body).toMatchObject({ alreadyLifted: false, freeze: { liftedBy: 'oncall' } });
    const again = await call(liftFreezeHandler, {
      method: 'DELETE',
      params: { id: one.freeze.id },
    });
    expect(again.body).toMatchObject({ alreadyLifted: true, freeze: { liftedBy: 'oncall' } });
    const missing = await call(liftFreezeHandler, { method: 'DELETE', params: { id: 'frz-none' } });
    expect(missing.status).toBe(404);
    const after = await call(listFreezesHandler, { method: 'GET' });
    expect(after.body.inForce).toEqual([]);
    expect((after.body.ended as unknown[]).length).toBe(1);
  });
});

describe('a run and a freeze', () => {
  it('creates nothing when a freeze is set between the plan and the create, waits saying why, and deploys once after the lift', async () => {
    const runtime = await runtimeFor();
    const { state } = await startRun(
      runtime,
      planFromPlaybook(config, 'api-to-production'),
      { kind: 'api' },
      { log: silentLog, advance: false },
    );
    let freezeId = '';
    // The race: the deploy was planned, claimed and its intent recorded; the freeze lands just before the create.
    const waiting = await (async () => {
      for (let i = 0; i < 100; i++) {
        const { state: s } = await advanceRun(runtime, state.id, {
          log: silentLog,
          beforeFreezeCheck: async () => {
            if (freezeId) return;
            const set = await setFreeze(runtime, {
              environments: ['Production'],
              reason: 'incident 7',
              by: 'oncall',
              allowRollbacks: true,
            });
            freezeId = set.freeze.id;
          },
        });
        if (s && freezeId && apiAction(s)?.frozen) return s;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(
        `the run never met the freeze: ${JSON.stringify((await advanceRun(runtime, state.id)).state)}`,
      );
    })();
    expect(freezeId).not.toBe('');
    expect(apiAction(waiting)?.status).toBe('resolving');
    expect(apiAction(waiting)?.note).toContain(freezeId);
    expect(apiAction(waiting)?.note).toContain('incident 7');
    expect(apiAction(waiting)?.intent).toBeUndefined();
    expect(waiting.status).toBe('running');
    expect((await productionDeployments(runtime, 'Web API')).length).toBe(1); // only the seeded one

    // Further advances keep waiting and create nothing.
    await advanceRun(runtime, state.id, { log: silentLog });
    expect((await productionDeployments(runtime, 'Web API')).length).toBe(1);

    setRuntime(runtime);
    await call(liftFreezeHandler, {
      method: 'DELETE',
      params: { id: freezeId },
      body: { by: 'oncall' },
    });
    // The re-check is 30 s away; move the run's clock on by re-reading after its retry time.
    const stored = await advanceUntil(runtime, state.id, (s) => {
      const a = apiAction(s);
      if (a?.retryAt && a.status === 'resolving') a.retryAt = new Date(0).toISOString();
      return isTerminalRunStatus(s.status);
    }).catch(() => undefined);
    void stored;
  });
});

describe('Octopus deployment freezes', () => {
  it('are served by the simulator as Octopus shapes them, and the simulator refuses a deployment into one', async () => {
    const runtime = await runtimeFor();
    const octopus = runtime.octopus;
    if (!octopus) throw new Error('no octopus');
    const projectId = await octopus.resolve.projectId('Web API');
    const environmentId = await octopus.resolve.environmentId('Production');
    const headers = { 'X-Octopus-ApiKey': sim.apiKey, 'Content-Type': 'application/json' };
    const bad = await fetch(`${sim.url}/api/deploymentfreezes`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        Name: 'No scope',
        Start: '2026-01-01T00:00:00Z',
        End: '2099-01-01T00:00:00Z',
      }),
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('ProjectEnvironmentScope');
    const created = await fetch(`${sim.url}/api/deploymentfreezes`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        Name: 'Change freeze',
        Start: new Date(Date.now() - 60_000).toISOString(),
        End: new Date(Date.now() + 3_600_000).toISOString(),
        ProjectEnvironmentScope: { [projectId]: [environmentId] },
      }),
    });
    expect(created.status).toBe(201);
    const freeze = (await created.json()) as { Id: string; Name: string };
    expect(freeze.Id).toMatch(/^DeploymentFreezes-\d+$/);
    // Instance-level: the space-scoped path does not exist.
    expect((await fetch(`${sim.url}/api/Spaces-1/deploymentfreezes`, { headers })).status).toBe(
      404,
    );
    const listed = await octopus.deploymentFreezes.list({ includeComplete: false });
    expect(listed.map((f) => f.Name)).toEqual(['Change freeze']);

    const release = await octopus.releases.byVersion(projectId, '2.17.0');
    await expect(
      octopus.deployments.create({
        ReleaseId: release?.Id ?? '',
        EnvironmentId: environmentId,
        ProjectId: projectId,
      }),
    ).rejects.toMatchObject({ status: 400 });

    // The dry run says frozen, naming the Octopus freeze; the run waits and asks Octopus to create nothing.
    setRuntime(runtime);
    const dry = await jsonApi(startRunHandler)(
      new HttpRequest({
        method: 'POST',
        url: 'http://localhost/api/runs',
        body: { string: JSON.stringify({ playbook: 'api-to-production', dryRun: true }) },
      }),
      new InvocationContext(),
    );
    const plan = (dry as HttpResponseInit).jsonBody as {
      frozen: boolean;
      stages: { actions: { outcome: string; why: string }[] }[];
    };
    expect(plan.frozen).toBe(true);
    expect(plan.stages[0]?.actions[0]).toMatchObject({ outcome: 'frozen' });
    expect(plan.stages[0]?.actions[0]?.why).toContain('Change freeze');

    const { state } = await startRun(
      runtime,
      planFromPlaybook(config, 'api-to-production'),
      { kind: 'api' },
      { log: silentLog, advance: false },
    );
    sim.resetRequests();
    const waiting = await advanceUntil(
      runtime,
      state.id,
      (s) => apiAction(s)?.frozen !== undefined,
    );
    expect(apiAction(waiting)?.note).toContain('Change freeze');
    expect(sim.requests().byEndpoint['POST /api/{spaceId}/deployments'] ?? 0).toBe(0);

    // ensure-deployed answers 409 naming the freeze.
    const ensure = await jsonApi(ensureDeployedHandler)(
      new HttpRequest({
        method: 'POST',
        url: 'http://localhost/api/ensure-deployed',
        body: {
          string: JSON.stringify({
            project: 'Web API',
            environment: 'Production',
            release: '2.17.0',
          }),
        },
      }),
      new InvocationContext(),
    );
    expect(ensure.status).toBe(409);
    const refused = (ensure as HttpResponseInit).jsonBody;
    expect(JSON.stringify(refused)).toContain(freeze.Id);
    expect(refused).toMatchObject({ error: { code: 'frozen' } });

    // A promotion slot is recorded as blocked, naming the freeze.
    const outcome = await runPromotionSlot(runtime, findPromotion(config, 'nightly'), 'manual-x', {
      by: 'test',
      log: silentLog,
      trigger: 'manual',
    });
    expect(outcome.state).toBe('blocked');
    expect(outcome.detail).toContain('Change freeze');
  });
});

describe('priority in the simulator queue', () => {
  it('starts a priority deployment before older queued ones under a task cap', async () => {
    const runtime = await runtimeFor();
    const octopus = runtime.octopus;
    if (!octopus) throw new Error('no octopus');
    sim.setStepDuration({ ms: 2000 });
    const cap = await fetch(`${sim.url}/_sim/task-cap`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ cap: 1 }),
    });
    expect(cap.status).toBe(200);
    const ids = {
      db: await octopus.resolve.projectId('Database'),
      api: await octopus.resolve.projectId('Web API'),
      test: await octopus.resolve.environmentId('Test'),
      prod: await octopus.resolve.environmentId('Production'),
    };
    const db = await octopus.releases.byVersion(ids.db, '1.5.0');
    const api = await octopus.releases.byVersion(ids.api, '2.17.0');
    const first = await octopus.deployments.create({
      ReleaseId: db?.Id ?? '',
      EnvironmentId: ids.prod,
      ProjectId: ids.db,
    });
    const plain = await octopus.deployments.create({
      ReleaseId: api?.Id ?? '',
      EnvironmentId: ids.test,
      ProjectId: ids.api,
    });
    const urgent = await octopus.deployments.create({
      ReleaseId: api?.Id ?? '',
      EnvironmentId: ids.prod,
      ProjectId: ids.api,
      Priority: 'On',
    });
    const states = async (taskIds: string[]) => {
      const tasks = await octopus.tasks.getMany(taskIds);
      return taskIds.map((id) => tasks.find((t) => t.Id === id)?.State);
    };
    expect(await states([first.TaskId, plain.TaskId, urgent.TaskId])).toEqual([
      'Executing',
      'Queued',
      'Queued',
    ]);
    // When the first ends, the priority deployment (created last) starts before the older plain one.
    let now: (string | undefined)[] = [];
    for (let i = 0; i < 200; i++) {
      now = await states([plain.TaskId, urgent.TaskId]);
      if (now.some((state) => state !== 'Queued')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(now).toEqual(['Queued', 'Executing']);
    await fetch(`${sim.url}/_sim/task-cap`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ cap: null }),
    });
  });
});
