// End to end: a freeze set during a running promotion, through two dev hosts (`node dist/dev/start.js`)
// on one Azurite and the Octopus simulator. The first stage's deployment runs on; the next stage creates
// nothing while the freeze lasts and says why; ensure-deployed answers 409; the status page shows the
// banner; after the lift the promotion finishes, each deployment created once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  sampleScenario,
  startOctopusSimulator,
  type OctopusSimulator,
} from '../../dev/octopus-sim/index.js';
import { DevHostPair } from '../helpers/devHostPair.js';
import type { DevHostProcess } from '../helpers/devHostProcess.js';

let sim: OctopusSimulator;
const pair = new DevHostPair();
const { host, until } = pair;

const config = {
  projectSets: {
    'web-stack': {
      projects: ['Database', 'Web API', 'Web App'],
      dependsOn: { 'Web API': ['Database'], 'Web App': ['Web API'] },
    },
  },
  promotions: [
    {
      name: 'to-production',
      set: 'web-stack',
      from: 'Test',
      to: 'Production',
      cron: '0 0 3 1 1 *',
      requireSuccessfulSource: false,
    },
  ],
};

interface ActionBody {
  id: string;
  status: string;
  project?: string;
  taskId?: string;
  note?: string;
  frozen?: { since: string; why: string };
}
interface RunBody {
  id: string;
  status: string;
  summary?: string;
  stages: { name: string; status: string; actions: ActionBody[] }[];
}

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

async function getRun(h: DevHostProcess, id: string): Promise<RunBody> {
  return (await (await fetch(`${h.url}/api/runs/${encodeURIComponent(id)}`)).json()) as RunBody;
}

async function productionDeployments(
  project: string,
): Promise<{ Id: string; Comments?: string }[]> {
  const headers = { 'X-Octopus-ApiKey': sim.apiKey };
  const projects = (await (
    await fetch(`${sim.url}/api/Spaces-1/projects/all`, { headers })
  ).json()) as {
    Id: string;
    Name: string;
  }[];
  const environments = (await (
    await fetch(`${sim.url}/api/Spaces-1/environments/all`, { headers })
  ).json()) as { Id: string; Name: string }[];
  const p = projects.find((x) => x.Name === project)?.Id ?? '';
  const e = environments.find((x) => x.Name === 'Production')?.Id ?? '';
  const page = (await (
    await fetch(`${sim.url}/api/Spaces-1/deployments?projects=${p}&environments=${e}&take=100`, {
      headers,
    })
  ).json()) as { Items: { Id: string; Comments?: string }[] };
  return page.Items;
}

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0 });
  sim.loadScenario({ ...sampleScenario, stepDurationMs: 1500, webhookBatchIntervalMs: 60_000 });
  await pair.start({ name: 'freezes-e2e', sim, config });
}, 300_000);
afterAll(async () => {
  await pair.stop();
  await sim?.stop();
});

describe('a freeze set during a running promotion', () => {
  it('stops the next deployment until lifted, on two instances, and deploys each project once', async () => {
    const before = {
      api: (await productionDeployments('Web API')).length,
      app: (await productionDeployments('Web App')).length,
    };
    const started = await fetch(`${host(0).url}/api/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ promotion: 'to-production' }),
    });
    const startBody = await json(started);
    expect(started.status, JSON.stringify(startBody)).toBe(201);
    const runId = String(startBody.runId);
    const plan = await getRun(host(0), runId);
    expect(plan.stages.length).toBeGreaterThanOrEqual(2);

    // The first stage's deployment is running in Octopus: set the freeze now, from both hosts at once.
    await until('the first stage to run', async () => {
      const run = await getRun(host(0), runId);
      return run.stages[0]?.actions.some((a) => a.taskId) ? run : undefined;
    });
    const freezeBody = {
      environments: ['Production'],
      reason: 'INC-4711 payments down',
      by: 'on-call',
      requestId: 'INC-4711',
    };
    const answers = await Promise.all(
      [0, 1].map((i) =>
        fetch(`${host(i).url}/api/freezes`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(freezeBody),
        }).then(async (r) => ({ status: r.status, body: await json(r) })),
      ),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 201]);
    const ids = answers.map((a) => (a.body.freeze as { id: string }).id);
    expect(ids[0]).toBe(ids[1]);
    const freezeId = ids[0] ?? '';

    // The next stage waits, naming the freeze, and creates nothing.
    const waiting = await until('the next stage to wait on the freeze', async () => {
      const run = await getRun(host(1), runId);
      return run.stages.some((s) => s.actions.some((a) => a.frozen)) ? run : undefined;
    });
    const frozenAction = waiting.stages.flatMap((s) => s.actions).find((a) => a.frozen);
    const lastProject = frozenAction?.project ?? '';
    expect(frozenAction?.note).toContain(freezeId);
    expect(frozenAction?.note).toContain('INC-4711 payments down');
    expect(waiting.status).toBe('running');
    await new Promise((r) => setTimeout(r, 3000));
    const lastBefore = lastProject === 'Web App' ? before.app : before.api;
    expect((await productionDeployments(lastProject)).length).toBe(lastBefore);

    // ensure-deployed answers 409 naming the freeze; the status page shows the banner.
    const ensure = await fetch(`${host(1).url}/api/ensure-deployed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ project: lastProject, environment: 'Production' }),
    });
    expect(ensure.status).toBe(409);
    expect(JSON.stringify(await json(ensure))).toContain(freezeId);
    const page = await (await fetch(`${host(0).url}/api/ui`)).text();
    expect(page).toContain('Deployments are frozen');
    expect(page).toContain('INC-4711 payments down');

    // Lift it (twice: the second says so); the promotion finishes, each deployment created once.
    const lift = await fetch(`${host(1).url}/api/freezes/${freezeId}`, {
      method: 'DELETE',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ by: 'on-call', reason: 'resolved' }),
    });
    expect(lift.status).toBe(200);
    const again = await json(
      await fetch(`${host(0).url}/api/freezes/${freezeId}`, { method: 'DELETE' }),
    );
    expect(again.alreadyLifted).toBe(true);
    const done = await until(
      'the promotion to finish',
      async () => {
        const run = await getRun(host(0), runId);
        return ['succeeded', 'failed', 'cancelled'].includes(run.status) ? run : undefined;
      },
      180_000,
    );
    expect(done.status).toBe('succeeded');
    const made = (await productionDeployments(lastProject)).filter((d) =>
      (d.Comments ?? '').includes(runId),
    );
    expect(made).toHaveLength(1);
  }, 420_000);
});
