// Release trains end to end: two dev hosts (`node dist/dev/start.js`) on one Azurite, both polling every
// second, against the Octopus simulator. A watch captures the combination live in Test as a train, people
// capture it over HTTP from both instances at once, the status poll verifies it after the set's soak, and
// a train-sourced promotion moves exactly that train to Production, although a newer release arrived in
// Test meanwhile; the instance that started the promotion is killed in the middle and the other finishes it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOctopusSimulator, type OctopusSimulator } from '../../dev/octopus-sim/index.js';
import { DevHostPair } from '../helpers/devHostPair.js';
import { webStackScenario } from '../helpers/scenarios.js';

/** Long enough that the newer train cannot be verified while the test promotes (see below). */
const soakMinutes = 1;

const scenario = webStackScenario({
  steps: { database: ['Migrate'], webApi: ['Deploy API', 'Smoke test'] },
  extra: {
    history: [
      // Its last deployment to Test failed: nothing is live there (and no train) until the test redeploys it.
      {
        project: 'Web API',
        release: '2.17.0',
        environment: 'Test',
        minutesAgo: 80,
        outcome: 'Failed',
      },
    ],
  },
  stepDurationMs: 300,
  webhookBatchIntervalMs: 600_000,
});

const config = {
  space: 'Default',
  projectSets: {
    'web-stack': {
      projects: ['Database', 'Web API'],
      dependsOn: { 'Web API': ['Database'] },
      soakMinutes,
    },
  },
  watches: [
    {
      name: 'web-stack-test',
      set: 'web-stack',
      environments: ['Test'],
      recipients: ['release@example.com'],
      captureTrains: true,
    },
  ],
  promotions: [
    {
      name: 'ship-train',
      set: 'web-stack',
      from: 'Test',
      to: 'Production',
      // Far from now: the test starts it over HTTP (the same slot code as the timer's).
      cron: '0 0 3 1 1 *',
      source: 'train',
    },
  ],
  playbooks: {
    'deploy-verified': {
      stages: [
        {
          name: 'Database',
          actions: [
            {
              type: 'deploy',
              id: 'db',
              project: 'Database',
              environment: 'Production',
              release: { train: 'latestVerified', from: 'Test' },
            },
          ],
        },
        {
          name: 'Web API',
          actions: [
            {
              type: 'deploy',
              id: 'api',
              project: 'Web API',
              environment: 'Production',
              release: { train: 'latestVerified', from: 'Test' },
            },
          ],
        },
      ],
      timeoutMinutes: 10,
    },
  },
};

let sim: OctopusSimulator;
const pair = new DevHostPair();
const { host, until } = pair;

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0 });
  sim.loadScenario(scenario);
  await pair.start({ name: 'trains', sim, config });
}, 240_000);

afterAll(async () => {
  await pair.stop();
  await sim?.stop();
});

interface Json {
  status: number;
  body: Record<string, unknown>;
}

async function call(url: string, method = 'GET', body?: unknown): Promise<Json> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

interface TrainBody {
  id: string;
  state: string;
  verified: boolean;
  verifiedAt: string | null;
  standingSince: string | null;
  soakMinutes: number;
  environment: string;
  members: { project: string; version: string; deployedBy: string | null; wentLiveAt: string }[];
}

const octopus = async <T>(path: string, init?: RequestInit): Promise<T> =>
  (await (
    await fetch(`${sim.url}${path}`, {
      ...init,
      headers: { 'X-Octopus-ApiKey': sim.apiKey, 'content-type': 'application/json' },
    })
  ).json()) as T;

async function ids(): Promise<{
  space: string;
  project: (n: string) => string;
  env: (n: string) => string;
}> {
  const spaces = await octopus<{ Items: { Id: string }[] }>('/api/spaces');
  const space = spaces.Items[0]?.Id ?? 'Spaces-1';
  const projects = await octopus<{ Id: string; Name: string }[]>(`/api/${space}/projects/all`);
  const environments = await octopus<{ Id: string; Name: string }[]>(
    `/api/${space}/environments/all`,
  );
  const find = (list: { Id: string; Name: string }[], name: string) =>
    list.find((x) => x.Name === name)?.Id ?? name;
  return {
    space,
    project: (n) => find(projects, n),
    env: (n) => find(environments, n),
  };
}

/** A deployment made by a person in Octopus (not the coordinator). */
async function deployByHand(
  project: string,
  releaseId: string,
  environment: string,
): Promise<void> {
  const o = await ids();
  await octopus(`/api/${o.space}/deployments`, {
    method: 'POST',
    body: JSON.stringify({
      ReleaseId: releaseId,
      ProjectId: o.project(project),
      EnvironmentId: o.env(environment),
    }),
  });
}

/** Deployments to Production, and those the coordinator created, per project. */
async function productionDeployments(): Promise<
  { version: string; project: string; byCoordinator: boolean; state: string }[]
> {
  const o = await ids();
  const list = await octopus<{
    Items: { ProjectId: string; ReleaseId: string; Comments?: string; TaskId: string }[];
  }>(`/api/${o.space}/deployments?environments=${o.env('Production')}&take=200`);
  const out = [];
  for (const d of list.Items) {
    const release = await octopus<{ Version: string }>(`/api/${o.space}/releases/${d.ReleaseId}`);
    const task = await octopus<{ State: string }>(`/api/tasks/${d.TaskId}`);
    out.push({
      project: d.ProjectId === o.project('Database') ? 'Database' : 'Web API',
      version: release.Version,
      byCoordinator: (d.Comments ?? '').includes('coordinator run='),
      state: task.State,
    });
  }
  return out;
}

describe('release trains through two dev hosts', () => {
  let first: TrainBody;

  it('answers 409 naming what is missing for a set that is not complete, and 404 for an unknown set', async () => {
    const incomplete = await call(`${host(0).url}/api/trains`, 'POST', {
      set: 'web-stack',
      environment: 'Production',
    });
    // Production: Database 1.4.0 succeeded, Web API 2.16.0 succeeded: complete. Make Web API fail there.
    expect(incomplete.status === 201 || incomplete.status === 200).toBe(true);
    sim.script({ project: 'Web API', environment: 'Production', failAtStep: 1 });
    const o = await ids();
    const apiRelease = await octopus<{ Items: { Id: string; Version: string }[] }>(
      `/api/${o.space}/projects/${o.project('Web API')}/releases`,
    );
    await deployByHand(
      'Web API',
      apiRelease.Items.find((r) => r.Version === '2.16.0')?.Id ?? '',
      'Production',
    );
    const refused = await until('Web API to fail in Production', async () => {
      const answer = await call(`${host(1).url}/api/trains`, 'POST', {
        set: 'web-stack',
        environment: 'Production',
      });
      // While the deployment runs the set is incomplete too ("is Executing"): wait for the failure.
      return answer.status === 409 && /is Failed/.test(JSON.stringify(answer.body))
        ? answer
        : undefined;
    });
    const error = refused.body.error as {
      code: string;
      message: string;
      details: { missing: { project: string; state: string }[] };
    };
    expect(error.code).toBe('set_incomplete');
    expect(error.message).toMatch(/Web API 2\.16\.0 is Failed/);
    expect(error.details.missing).toEqual([
      { project: 'Web API', release: '2.16.0', state: 'Failed' },
    ]);

    const unknown = await call(`${host(0).url}/api/trains`, 'POST', {
      set: 'nope',
      environment: 'Test',
    });
    expect(unknown.status).toBe(404);
    expect((unknown.body.error as { message: string }).message).toMatch(
      /set: there is no project set "nope"/,
    );
  }, 120_000);

  it('captures the combination live in Test once, from a watch and two instances at once, and verifies it after the soak', async () => {
    // Web API 2.17.0 is deployed again to Test and succeeds: the set is live there from now.
    const o = await ids();
    const apiReleases = await octopus<{ Items: { Id: string; Version: string }[] }>(
      `/api/${o.space}/projects/${o.project('Web API')}/releases`,
    );
    await deployByHand(
      'Web API',
      apiReleases.Items.find((r) => r.Version === '2.17.0')?.Id ?? '',
      'Test',
    );
    await until('the set to be live in Test', async () => {
      const status = await call(`${host(0).url}/api/status/web-stack`);
      const test = (status.body.cells as { environment: string; state: string }[]).find(
        (c) => c.environment === 'Test',
      );
      return test?.state === 'complete' ? test : undefined;
    });
    // Both instances' polls run the watch (which captures) while two people capture over HTTP.
    const answers = await Promise.all([
      call(`${host(0).url}/api/trains`, 'POST', {
        set: 'web-stack',
        environment: 'Test',
        requestedBy: 'ann',
      }),
      call(`${host(1).url}/api/trains`, 'POST', {
        set: 'web-stack',
        environment: 'Test',
        requestedBy: 'bob',
      }),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual(
      answers.some((a) => a.status === 201) ? [200, 201] : [200, 200],
    );
    const trains = answers.map((a) => a.body.train as TrainBody);
    expect(trains[0]?.id).toBe(trains[1]?.id);
    first = trains[0] as TrainBody;
    expect(first.members.map((m) => `${m.project} ${m.version}`)).toEqual([
      'Database 1.5.0',
      'Web API 2.17.0',
    ]);
    expect(first.members.every((m) => m.wentLiveAt && m.deployedBy)).toBe(true);
    const listed = await call(`${host(1).url}/api/trains?set=web-stack`);
    const inTest = (listed.body.trains as TrainBody[]).filter((t) => t.environment === 'Test');
    expect(inTest.map((t) => t.id)).toEqual([first.id]);

    // Before the soak has passed nothing qualifies, and the dry runs and a real start say why.
    const early = await call(`${host(0).url}/api/runs`, 'POST', {
      promotion: 'ship-train',
      dryRun: true,
    });
    expect((early.body.plan as { blockers: string[] }).blockers).toEqual([
      expect.stringMatching(
        new RegExp(
          `^no train of set web-stack has been verified in Test yet: train ${first.id} .*is still soaking`,
        ),
      ),
    ]);
    const refused = await call(`${host(0).url}/api/runs`, 'POST', { playbook: 'deploy-verified' });
    expect(refused.status).toBe(409);
    expect((refused.body.error as { code: string; message: string }).code).toBe('no_train');
    const earlyPlaybook = await call(`${host(0).url}/api/runs`, 'POST', {
      playbook: 'deploy-verified',
      dryRun: true,
    });
    expect(
      (earlyPlaybook.body.stages as { actions: { outcome: string; why: string }[] }[])[0]
        ?.actions[0],
    ).toMatchObject({
      outcome: 'refuse',
      why: expect.stringMatching(/no train of set web-stack has been verified/),
    });

    const verified = await until('the train to be verified', async () => {
      const t = (await call(`${host(1).url}/api/trains/${first.id}`)).body as unknown as TrainBody;
      return t.verified ? t : undefined;
    });
    // Stood the whole soak, measured in storage time from the first observation.
    expect(
      Date.parse(verified.verifiedAt ?? '') - Date.parse(verified.standingSince ?? ''),
    ).toBeGreaterThanOrEqual(soakMinutes * 60_000);
    const status = await call(`${host(0).url}/api/status/web-stack`);
    const test = (
      status.body.cells as {
        environment: string;
        train: { id: string; verified: boolean } | null;
      }[]
    ).find((c) => c.environment === 'Test');
    expect(test?.train).toMatchObject({ id: first.id, verified: true });
  }, 200_000);

  it('promotes exactly the verified train, not a newer release in Test, once, even when the instance that started it dies', async () => {
    // A newer Web API arrives in Test and stands there: a new train, soaking, not verified.
    const created = sim.createRelease({ project: 'Web API', version: '2.18.0' });
    await deployByHand('Web API', String(created.Id), 'Test');
    const newer = await until('the newer combination to be captured and live in Test', async () => {
      const status = await call(`${host(0).url}/api/status/web-stack`);
      const test = (
        status.body.cells as { environment: string; train: { id: string; state: string } | null }[]
      ).find((c) => c.environment === 'Test');
      return test?.train && test.train.id !== first.id ? test.train : undefined;
    });
    expect(newer.state).toBe('soaking');

    const dry = await call(`${host(1).url}/api/runs`, 'POST', {
      promotion: 'ship-train',
      dryRun: true,
    });
    expect(dry.status).toBe(200);
    expect(dry.body.text).toMatch(
      new RegExp(`Train: ${first.id}: train ${first.id} is the newest verified train`),
    );
    expect(dry.body.text).toMatch(
      new RegExp(`newer, not chosen: train ${newer.id} .*is still soaking`),
    );
    expect(dry.body.text).toMatch(/Web API: deploy 2\.17\.0: 2\.17\.0 is in train/);

    // Two clicks on the second instance at once: one run.
    const started = await Promise.all([
      call(`${host(1).url}/api/runs`, 'POST', { promotion: 'ship-train', requestedBy: 'ann' }),
      call(`${host(1).url}/api/runs`, 'POST', { promotion: 'ship-train', requestedBy: 'ann' }),
    ]);
    const run = started.find((s) => s.status === 201);
    expect(started.map((s) => s.body.state).sort()).toEqual(['alreadyClaimed', 'started']);
    const runId = String(run?.body.runId);
    // The instance dies in the middle of the run (its first deployment created, nothing recorded after).
    host(1).child.kill('SIGKILL');

    const finished = await until(
      'the other instance to finish the run',
      async () => {
        const r = await call(`${host(0).url}/api/runs/${runId}`);
        return ['succeeded', 'failed', 'cancelled'].includes(String(r.body.status))
          ? r.body
          : undefined;
      },
      150_000,
    );
    expect(finished.status).toBe('succeeded');
    const production = await productionDeployments();
    const mine = production.filter((d) => d.byCoordinator);
    expect(mine.map((d) => `${d.project} ${d.version} ${d.state}`).sort()).toEqual([
      'Database 1.5.0 Success',
      'Web API 2.17.0 Success',
    ]);
    expect(production.some((d) => d.version === '2.18.0')).toBe(false);

    // Promoted a second time (a playbook taking the newest verified train): the same train, nothing deployed.
    const preview = await call(`${host(0).url}/api/runs`, 'POST', {
      playbook: 'deploy-verified',
      dryRun: true,
    });
    const previewActions = (
      preview.body.stages as {
        actions: { train?: string; outcome: string; release?: { version: string; why: string } }[];
      }[]
    ).flatMap((s) => s.actions);
    expect(previewActions.map((a) => [a.train, a.release?.version, a.outcome])).toEqual([
      [first.id, '1.5.0', 'skip'],
      [first.id, '2.17.0', 'skip'],
    ]);
    expect(previewActions[1]?.release?.why).toMatch(
      new RegExp(
        `2\\.17\\.0 of Web API in train ${first.id} is the newest verified train of set web-stack in Test`,
      ),
    );
    const again = await call(`${host(0).url}/api/runs`, 'POST', { playbook: 'deploy-verified' });
    expect(again.status).toBe(201);
    const second = await until('the second promotion to end', async () => {
      const r = await call(`${host(0).url}/api/runs/${String(again.body.id)}`);
      return ['succeeded', 'failed', 'cancelled'].includes(String(r.body.status))
        ? r.body
        : undefined;
    });
    expect(second.status).toBe('succeeded');
    const after = (await productionDeployments()).filter((d) => d.byCoordinator);
    expect(after).toHaveLength(2);
  }, 300_000);
});
