// End to end: runs started at the same moment, through the dev host (`node dist/dev/start.js`, one or
// two instances on one Azurite) against the Octopus simulator, with the shipped coordination.example.json.
// What a user did: two POST /api/runs of release-web-stack in Development at once deployed Database
// twice. A run belongs to a concurrency group (queue by default), and the coordinator never has two
// deployments of its own active for one project × environment × tenant.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseJsonc } from 'jsonc-parser';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { azuriteConnectionString } from '../../dev/azurite.js';
import {
  sampleScenario,
  startOctopusSimulator,
  type OctopusSimulator,
} from '../../dev/octopus-sim/index.js';
import { startDevHostProcess, type DevHostProcess } from '../helpers/devHostProcess.js';

let sim: OctopusSimulator;
let hosts: DevHostProcess[] = [];

/** The shipped example, plus copies of its playbook with the other policies and a Database-only one. */
function config(): Record<string, unknown> {
  const example = parseJsonc(readFileSync('coordination.example.json', 'utf8')) as {
    playbooks: Record<string, Record<string, unknown>>;
  } & Record<string, unknown>;
  const stack = example.playbooks['release-web-stack'] ?? {};
  const database = (release: unknown) => ({
    stages: [
      {
        name: 'Database',
        actions: [
          { type: 'deploy', id: 'db', project: 'Database', environment: 'Development', release },
        ],
      },
    ],
    timeoutMinutes: 10,
  });
  return {
    ...example,
    // Rules are another engineer's item; no webhooks reach these hosts anyway.
    rules: [],
    playbooks: {
      ...example.playbooks,
      'release-strict': { ...stack, concurrency: { policy: 'reject' } },
      'release-latest-wins': { ...stack, concurrency: { policy: 'cancelInProgress' } },
      'database-latest': database('latest'),
      'database-1.6.1': database({ version: '1.6.1' }),
      'wait-quarter': {
        stages: [{ name: 'Wait', actions: [{ type: 'wait', id: 'pause', minutes: 0.25 }] }],
        timeoutMinutes: 10,
      },
    },
  };
}

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0 });
  await startHosts(2, config());
}, 120_000);
afterAll(async () => {
  for (const h of hosts) await h.stop();
  hosts = [];
  await sim.stop();
});
beforeEach(() => {
  sim.loadScenario({ ...sampleScenario, stepDurationMs: 150, webhookBatchIntervalMs: 60_000 });
  sim.faults({ clear: true });
  // Something new to deploy in Development (everything there is current in the sample).
  sim.createRelease({ project: 'Database', version: '1.6.1' });
  sim.createRelease({ project: 'Web API', version: '2.18.1' });
});
afterEach(async () => {
  // Every run of a test has ended before the next test starts (they share the hosts' storage).
  const res = await fetch(`${host(0).url}/api/runs?limit=500`);
  const { runs } = (await res.json()) as { runs: { id: string }[] };
  await waitForRuns(
    host(0),
    runs.map((r) => r.id),
  );
}, 120_000);

function host(i: number): DevHostProcess {
  const h = hosts[i];
  if (!h) throw new Error(`no host ${i}`);
  return h;
}

/**
 * `count` dev hosts on one Azurite (the first starts it), all on the test's simulator, each polling
 * every second (the status poll is what moves runs on when no webhook comes).
 */
async function startHosts(count: number, config?: unknown): Promise<DevHostProcess[]> {
  const env: Record<string, string> = {
    OCTOPUS_URL: sim.url,
    OCTOPUS_API_KEY: sim.apiKey,
    STATUS_POLL_SCHEDULE: '*/1 * * * * *',
    DAILY_REPORT_SCHEDULE: '0 0 0 1 1 *',
  };
  if (config !== undefined) {
    const path = join(mkdtempSync(join(tmpdir(), 'runs-concurrency-')), 'coordination.json');
    writeFileSync(path, JSON.stringify(config));
    env.COORDINATION_CONFIG = path;
  }
  const first = await startDevHostProcess({ env });
  hosts.push(first);
  const storage = azuriteConnectionString('127.0.0.1', first.ports.azurite);
  for (let i = 1; i < count; i++) {
    const other = await startDevHostProcess({ env: { ...env, AzureWebJobsStorage: storage } });
    hosts.push(other);
  }
  return hosts;
}

interface RunBody {
  id: string;
  status: string;
  concurrency?: {
    group: string;
    policy: string;
    queued: boolean;
    position?: number;
    waitingFor?: string[];
  };
  stages: {
    actions: { id: string; status: string; note?: string; decision?: string; taskId?: string }[];
  }[];
}

async function post(url: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as unknown };
}

async function getRun(host: DevHostProcess, id: string): Promise<RunBody> {
  const res = await fetch(`${host.url}/api/runs/${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as RunBody;
}

const terminal = ['succeeded', 'failed', 'cancelled'];

async function waitForRuns(
  host: DevHostProcess,
  ids: string[],
  timeoutMs = 90_000,
): Promise<RunBody[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const runs = await Promise.all(ids.map((id) => getRun(host, id)));
    if (runs.every((r) => terminal.includes(r.status))) return runs;
    if (Date.now() > until)
      throw new Error(
        `runs did not finish: ${JSON.stringify(runs.map((r) => [r.id, r.status]))}\n${host.output().slice(-3000)}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Deployments the coordinator created, counted by project × environment (names). */
async function coordinatorDeployments(): Promise<Map<string, number>> {
  const headers = { 'X-Octopus-ApiKey': sim.apiKey };
  const get = async <T>(path: string): Promise<T> =>
    (await (await fetch(`${sim.url}${path}`, { headers })).json()) as T;
  const spaces = await get<{ Items: { Id: string }[] }>('/api/spaces');
  const space = spaces.Items[0]?.Id ?? 'Spaces-1';
  const projects = await get<{ Items: { Id: string; Name: string }[] }>(
    `/api/${space}/projects?take=100`,
  );
  const environments = await get<{ Items: { Id: string; Name: string }[] }>(
    `/api/${space}/environments?take=100`,
  );
  const deployments = await get<{
    Items: { ProjectId: string; EnvironmentId: string; Comments?: string }[];
  }>(`/api/${space}/deployments?take=1000`);
  const name = (list: { Id: string; Name: string }[], id: string) =>
    list.find((x) => x.Id === id)?.Name ?? id;
  const counts = new Map<string, number>();
  for (const d of deployments.Items) {
    if (!(d.Comments ?? '').includes('coordinator run=')) continue;
    const key = `${name(projects.Items, d.ProjectId)} @ ${name(environments.Items, d.EnvironmentId)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

const start = { playbook: 'release-web-stack', environment: 'Development' };

describe('concurrent runs through the dev host', () => {
  it('two POST /api/runs at once deploy Database 1.6.1 to Development once; the second run queues, then skips what is current', async () => {
    const host = hosts[0];
    if (!host) throw new Error('no host');
    const answers = await Promise.all([
      post(`${host.url}/api/runs`, start),
      post(`${host.url}/api/runs`, start),
    ]);
    expect(answers.map((a) => a.status)).toEqual([201, 201]);
    const ids = answers.map((a) => (a.body as RunBody).id);
    const queued = answers.map((a) => a.body as RunBody).find((r) => r.status === 'queued');
    expect(queued?.concurrency).toMatchObject({
      policy: 'queue',
      queued: true,
      position: 1,
    });
    expect(queued?.concurrency?.waitingFor?.[0]).toMatch(/^run-/);

    const runs = await waitForRuns(host, ids);
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    const counts = await coordinatorDeployments();
    expect(counts.get('Database @ Development')).toBe(1);
    expect(counts.get('Web API @ Development')).toBe(1);
    // The run that waited found the releases current and skipped them.
    const second = runs.find((r) => r.id === queued?.id);
    const db = second?.stages[0]?.actions.find((a) => a.id === 'db');
    expect(db?.status).toBe('skipped');
  }, 120_000);

  it('ten starts at once, split over two host instances on one Azurite: one deployment per project and environment, one run at a time', async () => {
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => post(`${host(i % 2).url}/api/runs`, start)),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(201));
    const bodies = answers.map((a) => a.body as RunBody);
    expect(bodies.filter((b) => b.status !== 'queued')).toHaveLength(1);
    // Positions 1..9, each queued run naming the run it waits for.
    const queued = bodies.filter((b) => b.status === 'queued');
    expect(queued.map((b) => b.concurrency?.position).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9,
    ]);
    const runs = await waitForRuns(
      host(1),
      bodies.map((b) => b.id),
      180_000,
    );
    expect(runs.map((r) => r.status)).toEqual(Array(10).fill('succeeded'));
    const counts = await coordinatorDeployments();
    expect(counts.get('Database @ Development')).toBe(1);
    expect(counts.get('Web API @ Development')).toBe(1);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  }, 240_000);

  it('six POST /api/ensure-deployed at once over two instances: one run, one deployment of Database 1.6.1, every answer names that run', async () => {
    const ask = { project: 'Database', environment: 'Development', release: '1.6.1' };
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => post(`${host(i % 2).url}/api/ensure-deployed`, ask)),
    );
    for (const a of answers) expect(a.status, JSON.stringify(a.body)).toBe(202);
    const bodies = answers.map((a) => a.body as { runId: string; started: boolean });
    expect(new Set(bodies.map((b) => b.runId)).size).toBe(1);
    expect(bodies.filter((b) => b.started)).toHaveLength(1);
    const [run] = await waitForRuns(host(0), [bodies[0]?.runId ?? '']);
    expect(run?.status).toBe('succeeded');
    expect((await coordinatorDeployments()).get('Database @ Development')).toBe(1);
    // Asked again once it is live: current, nothing started.
    const again = await post(`${host(1).url}/api/ensure-deployed`, ask);
    expect(again).toMatchObject({ status: 200, body: { status: 'current', release: '1.6.1' } });
    expect((await coordinatorDeployments()).get('Database @ Development')).toBe(1);
  });

  it('reject: the second of two starts is a 409 naming the active run, and nothing is stored for it', async () => {
    const body = { playbook: 'release-strict', environment: 'Development' };
    const answers = await Promise.all([
      post(`${host(0).url}/api/runs`, body),
      post(`${host(1).url}/api/runs`, body),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409]);
    const accepted = answers.find((a) => a.status === 201)?.body as RunBody;
    const refused = answers.find((a) => a.status === 409)?.body as {
      error: { code: string; message: string; details: { activeRuns: string[] } };
    };
    expect(refused.error.code).toBe('run_rejected');
    expect(refused.error.message).toContain(accepted.id);
    expect(refused.error.details.activeRuns).toEqual([accepted.id]);
    const list = (await (await fetch(`${host(0).url}/api/runs?limit=500`)).json()) as {
      runs: { id: string; name: string }[];
    };
    expect(list.runs.filter((r) => r.name === 'release-strict')).toHaveLength(1);
    await waitForRuns(host(0), [accepted.id]);
    const counts = await coordinatorDeployments();
    expect(counts.get('Database @ Development')).toBe(1);
  }, 120_000);

  it('cancelInProgress: a second start cancels the active run (its Octopus task at once), then runs', async () => {
    sim.setStepDuration({ ms: 4000, project: 'Database' });
    const body = { playbook: 'release-latest-wins', environment: 'Development' };
    const first = (await post(`${host(0).url}/api/runs`, body)).body as RunBody;
    // Wait until the first run's Database deployment runs in Octopus.
    for (let i = 0; i < 200; i++) {
      const run = await getRun(host(0), first.id);
      if (run.stages[0]?.actions.find((a) => a.id === 'db')?.status === 'running') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const secondAnswer = await post(`${host(1).url}/api/runs`, body);
    expect(secondAnswer.status).toBe(201);
    const second = secondAnswer.body as RunBody;
    expect(second.status).toBe('queued');
    const cancelled = await getRun(host(0), first.id);
    expect(['cancelling', 'rollingBack', 'cancelled']).toContain(cancelled.status);
    sim.setStepDuration({ ms: 150, project: 'Database' });
    const [a, b] = await waitForRuns(host(0), [first.id, second.id]);
    expect(a?.status).toBe('cancelled');
    expect(a?.stages[0]?.actions.find((x) => x.id === 'db')?.status).toBe('cancelled');
    expect(b?.status).toBe('succeeded');
    expect(b?.stages[0]?.actions.find((x) => x.id === 'db')?.status).toBe('succeeded');
  }, 120_000);

  it('across groups: a run wanting the release another run is deploying there joins that deployment', async () => {
    const answers = await Promise.all([
      post(`${host(0).url}/api/runs`, start),
      post(`${host(1).url}/api/runs`, { playbook: 'database-1.6.1' }),
    ]);
    expect(answers.map((a) => a.status)).toEqual([201, 201]);
    const runs = await waitForRuns(
      host(0),
      answers.map((a) => (a.body as RunBody).id),
    );
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    const counts = await coordinatorDeployments();
    expect(counts.get('Database @ Development')).toBe(1);
    const dbActions = runs.map((r) => r.stages[0]?.actions.find((a) => a.id === 'db'));
    // The other run followed that deployment (or, on a slow machine, found it already finished and current).
    expect(
      dbActions.filter((a) => a?.decision?.startsWith('join') || a?.decision?.startsWith('skip')),
    ).toHaveLength(1);
  }, 120_000);

  it('across groups: a run wanting another release there waits for the active deployment, and says so', async () => {
    sim.createRelease({ project: 'Database', version: '1.6.2' });
    sim.setStepDuration({ ms: 1500, project: 'Database' });
    const pinned = (await post(`${host(0).url}/api/runs`, { playbook: 'database-1.6.1' }))
      .body as RunBody;
    for (let i = 0; i < 200; i++) {
      const run = await getRun(host(0), pinned.id);
      if (run.stages[0]?.actions[0]?.status === 'running') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const latest = (await post(`${host(1).url}/api/runs`, { playbook: 'database-latest' }))
      .body as RunBody;
    const waiting = await getRun(host(1), latest.id);
    expect(waiting.stages[0]?.actions[0]).toMatchObject({ status: 'resolving' });
    expect(waiting.stages[0]?.actions[0]?.note).toContain(
      `waiting for the deployment run ${pinned.id} started there to end before deploying 1.6.2`,
    );
    const runs = await waitForRuns(host(0), [pinned.id, latest.id]);
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    expect((await coordinatorDeployments()).get('Database @ Development')).toBe(2);
  }, 120_000);
});

describe('bad input through the dev host: a 400 naming it, and nothing created or emailed', () => {
  it('an unknown environment or tenant in POST /api/runs (dry or real) lists the known names', async () => {
    const before = (await (await fetch(`${host(0).url}/api/runs?limit=500`)).json()) as {
      runs: unknown[];
    };
    for (const dryRun of [true, false]) {
      const answer = await post(`${host(0).url}/api/runs`, {
        playbook: 'release-web-stack',
        environment: 'Developmnt',
        tenant: 'Acme',
        dryRun,
      });
      expect(answer.status).toBe(400);
      const error = (answer.body as { error: { code: string; message: string } }).error;
      expect(error.code).toBe('unknown_name');
      expect(error.message).toContain("'Developmnt'");
      expect(error.message).toContain('Development, Test, Production');
      expect(error.message).toContain("'Acme'");
      expect(error.message).toContain('Acme Corp');
    }
    const after = (await (await fetch(`${host(0).url}/api/runs?limit=500`)).json()) as {
      runs: unknown[];
    };
    expect(after.runs).toHaveLength(before.runs.length);
    expect(await coordinatorDeployments()).toEqual(new Map());
  });

  it('an unknown named condition or set in POST /api/conditions/check is a 400, not ok: false', async () => {
    const named = await post(`${host(0).url}/api/conditions/check`, { condition: 'api-is-recnt' });
    expect(named.status).toBe(400);
    const namedError = (named.body as { error: { code: string; message: string } }).error;
    expect(namedError.code).toBe('invalid_condition');
    expect(namedError.message).toContain('"api-is-recnt"');
    expect(namedError.message).toContain('api-is-recent');
    const set = await post(`${host(0).url}/api/conditions/check`, {
      condition: { type: 'setCurrent', set: 'web-stak', environment: 'Test' },
    });
    expect(set.status).toBe(400);
    expect((set.body as { error: { message: string } }).error.message).toContain('web-stak');
    const good = await post(`${host(0).url}/api/conditions/check`, {
      condition: 'api-is-recent',
      environment: 'Test',
    });
    expect(good.status).toBe(200);
  });
});

describe('rollback order through the dev host', () => {
  it('puts projects back in reverse dependency order by default: Web API before Database', async () => {
    sim.createRelease({ project: 'Web App', version: '3.2.1' });
    sim.script({ project: 'Web App', environment: 'Development', failAtStep: 1 });
    const run = (await post(`${host(0).url}/api/runs`, start)).body as RunBody;
    const [done] = await waitForRuns(host(0), [run.id]);
    const view = (await getRun(host(0), run.id)) as RunBody & {
      onFailure: {
        status: string;
        steps: {
          type: string;
          actions: { project?: string; status: string; startedAt?: string; finishedAt?: string }[];
        }[];
      };
    };
    expect(done?.status).toBe('failed');
    expect(view.onFailure.status).toBe('succeeded');
    const rollback = view.onFailure.steps.find((st) => st.type === 'redeployPrevious');
    const api = rollback?.actions.find((a) => a.project === 'Web API');
    const db = rollback?.actions.find((a) => a.project === 'Database');
    expect([api?.status, db?.status]).toEqual(['succeeded', 'succeeded']);
    // Database's rollback starts only after Web API's has finished (Web API needs Database).
    expect(Date.parse(db?.startedAt ?? '')).toBeGreaterThanOrEqual(
      Date.parse(api?.finishedAt ?? 'x'),
    );
  }, 120_000);
});

describe('timely through the dev host', () => {
  it('cancel acts at once: the Octopus task is cancelled when POST /api/runs/{id}/cancel answers', async () => {
    sim.setStepDuration({ ms: 30_000, project: 'Database' });
    const run = (await post(`${host(0).url}/api/runs`, start)).body as RunBody & {
      stages: { actions: { id: string; taskId?: string }[] }[];
    };
    const taskId = run.stages[0]?.actions.find((a) => a.id === 'db')?.taskId;
    expect(taskId).toMatch(/^ServerTasks-/);
    const answer = await post(`${host(1).url}/api/runs/${run.id}/cancel`, { reason: 'wrong day' });
    expect(answer.status).toBe(202);
    const task = (await (
      await fetch(`${sim.url}/api/tasks/${taskId ?? ''}`, {
        headers: { 'X-Octopus-ApiKey': sim.apiKey },
      })
    ).json()) as { State: string };
    expect(['Cancelling', 'Canceled']).toContain(task.State);
    sim.setStepDuration({ ms: 150, project: 'Database' });
    const [done] = await waitForRuns(host(0), [run.id]);
    expect(done?.status).toBe('cancelled');
  }, 120_000);

  it('a wait ends within seconds of its time, without a status poll', async () => {
    // A host of its own (own Azurite) whose status poll never fires in the test.
    const path = join(mkdtempSync(join(tmpdir(), 'runs-wait-')), 'coordination.json');
    writeFileSync(path, JSON.stringify(config()));
    const env = {
      OCTOPUS_URL: sim.url,
      OCTOPUS_API_KEY: sim.apiKey,
      COORDINATION_CONFIG: path,
      STATUS_POLL_SCHEDULE: '0 0 0 1 1 *',
      DAILY_REPORT_SCHEDULE: '0 0 0 1 1 *',
    };
    // A loaded machine can take Azurite past its start timeout once; that is not what is tested here.
    const quiet = await startDevHostProcess({ env }).catch(() => startDevHostProcess({ env }));
    try {
      const run = (await post(`${quiet.url}/api/runs`, { playbook: 'wait-quarter' }))
        .body as RunBody;
      const [done] = await waitForRuns(quiet, [run.id], 60_000);
      expect(done?.status).toBe('succeeded');
      const pause = (
        done as RunBody & {
          stages: { actions: { startedAt?: string; finishedAt?: string }[] }[];
        }
      ).stages[0]?.actions[0];
      const took = Date.parse(pause?.finishedAt ?? '') - Date.parse(pause?.startedAt ?? '');
      expect(took).toBeGreaterThanOrEqual(15_000);
      expect(took).toBeLessThan(20_000);
    } finally {
      await quiet.stop();
    }
  }, 180_000);
});
