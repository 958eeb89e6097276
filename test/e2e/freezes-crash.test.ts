// End to end, with a crash: two dev hosts (`node dist/dev/start.js`) on one Azurite and the Octopus
// simulator; the second host advances a promotion and is killed (SIGKILL) at a chosen Octopus call as
// a freeze is set, and the first host takes the run over.
// 1. Killed at its create calls, holding both deploy claims: the first host searches Octopus for what
//    the dead one created, checks the freezes again under the claims, creates nothing, gives the
//    claims back and waits; once the freeze is lifted it creates each deployment exactly once.
// 2. Killed just after taking the claims, before it recorded them (onFreeze: fail): the run fails on
//    the freeze, and the claims the dead host took are given back, not left to lapse (15 minutes), so
//    the next promotion deploys at once after the lift.
// 3. No freeze: Octopus creates its first deployment but the answer is lost and the host is killed
//    before it hears of it: the first host finds that deployment by its marker and follows it, creates
//    the other, and each project is deployed exactly once.
// 4. The same lost answer, the host lives on: it checks Octopus before it creates again, finds the
//    deployment, follows it, and each project is deployed exactly once.
//
// The second host reaches Octopus through a pass-through (test/helpers/octopusGate.ts), so the test
// stops it at its create call; the first host runs with --no-timers and advances the run only when the
// test fires its status poll (POST /admin/functions/statusPoll), so the dead host is the only one that
// acted before the crash.
import { afterAll, describe, expect, it } from 'vitest';
import { startOctopusSimulator, type OctopusSimulator } from '../../dev/octopus-sim/index.js';
import { DevHostPair } from '../helpers/devHostPair.js';
import { waitForExit, type DevHostProcess } from '../helpers/devHostProcess.js';
import { startOctopusGate, type OctopusGate } from '../helpers/octopusGate.js';
import { webStackScenario } from '../helpers/scenarios.js';

let sim: OctopusSimulator;
let gate: OctopusGate;
let pair: DevHostPair;
const everything: { stop(): Promise<unknown> }[] = [];

const config = {
  projectSets: { 'web-stack': { projects: ['Database', 'Web API'] } },
  promotions: [
    {
      name: 'to-production',
      set: 'web-stack',
      from: 'Test',
      to: 'Production',
      cron: '0 0 3 1 1 *',
      requireSuccessfulSource: false,
    },
    {
      name: 'to-production-or-fail',
      set: 'web-stack',
      from: 'Test',
      to: 'Production',
      cron: '0 0 3 1 1 *',
      requireSuccessfulSource: false,
      onFreeze: 'fail',
    },
  ],
};

interface RunBody {
  id: string;
  status: string;
  stages: {
    actions: {
      id: string;
      status: string;
      project?: string;
      deploymentId?: string;
      frozen?: { why: string };
    }[];
  }[];
}

const host = (i: number): DevHostProcess => pair.host(i);
const until = <T>(what: string, read: () => Promise<T | undefined>): Promise<T> =>
  pair.until(what, read);

async function getRun(id: string): Promise<RunBody> {
  return (await (
    await fetch(`${host(0).url}/api/runs/${encodeURIComponent(id)}`)
  ).json()) as RunBody;
}

/** The first host's status poll, once (it advances every active run it may). */
async function pollOnFirstHost(): Promise<void> {
  const res = await fetch(`${host(0).url}/admin/functions/statusPoll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  await res.body?.cancel();
}

/** The deploy claims someone holds now (GET /api/locks: live holders only). */
async function heldClaims(): Promise<string[]> {
  const body = (await (await fetch(`${host(0).url}/api/locks`)).json()) as {
    locks: { name: string; holders: string[] }[];
  };
  return body.locks.filter((l) => l.name.startsWith('deploy/')).flatMap((l) => l.holders);
}

/** Production deployments of the run (the coordinator marks each with its run id): project, id. */
async function productionDeployments(runId: string): Promise<{ project: string; id: string }[]> {
  const headers = { 'X-Octopus-ApiKey': sim.apiKey };
  const read = async <T>(path: string) =>
    (await (await fetch(`${sim.url}/api/Spaces-1/${path}`, { headers })).json()) as T;
  const projects = await read<{ Id: string; Name: string }[]>('projects/all');
  const environments = await read<{ Id: string; Name: string }[]>('environments/all');
  const production = environments.find((e) => e.Name === 'Production')?.Id ?? '';
  const page = await read<{ Items: { Id: string; ProjectId: string; Comments?: string }[] }>(
    `deployments?environments=${production}&take=100`,
  );
  return page.Items.filter((d) => (d.Comments ?? '').includes(runId)).map((d) => ({
    project: projects.find((p) => p.Id === d.ProjectId)?.Name ?? d.ProjectId,
    id: d.Id,
  }));
}

/** The projects of the run's Production deployments, one entry a deployment. */
async function deploymentsOfRun(runId: string): Promise<string[]> {
  return (await productionDeployments(runId)).map((d) => d.project).sort();
}

/**
 * A fresh simulator, its pass-through, and the two hosts: the first with --no-timers on the simulator
 * itself, the second (polling every second) on the first one's Azurite, through the pass-through.
 */
async function startWorld(): Promise<void> {
  sim = await startOctopusSimulator({ port: 0 });
  everything.push(sim);
  sim.loadScenario(
    webStackScenario({
      steps: { database: ['Migrate'], webApi: ['Deploy API'] },
      stepDurationMs: 300,
      webhookBatchIntervalMs: 60_000,
    }),
  );
  gate = await startOctopusGate(sim.url);
  everything.push(gate);
  pair = new DevHostPair();
  everything.push(pair);
  await pair.start({
    name: 'freezes-crash',
    sim,
    config,
    first: { args: ['--no-timers'] },
    second: { env: { OCTOPUS_URL: gate.url } },
  });
}

/** Start a promotion on `h` (answered 201); its run id. */
async function startRun(h: DevHostProcess, promotion: string): Promise<string> {
  const started = await fetch(`${h.url}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ promotion }),
  });
  expect(started.status).toBe(201);
  return String(((await started.json()) as { runId: string }).runId);
}

/** Start a promotion on the second host, which dies during the POST (it advances the run there). */
async function startOnSecondHost(promotion: string): Promise<string> {
  const started = await fetch(`${host(1).url}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ promotion }),
  }).catch(() => undefined);
  await until('the second host to die', async () =>
    host(1).child.signalCode === 'SIGKILL' ? true : undefined,
  );
  // With the gate holding the create until the kill, no answer comes back, so this only guards the
  // case where the gate forwards (an answer then must not be a 500); the run list below is the check.
  expect(started?.status ?? 'no answer: the host died').not.toBe(500);
  const list = (await (await fetch(`${host(0).url}/api/runs`)).json()) as {
    runs: { id: string }[];
  };
  expect(list.runs).toHaveLength(1);
  return list.runs[0]?.id ?? '';
}

/** Set a freeze on Production (through the first host), then kill the second host. */
async function freezeAndKill(): Promise<string> {
  const set = await fetch(`${host(0).url}/api/freezes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      environments: ['Production'],
      reason: 'INC-9 payments down',
      by: 'on-call',
    }),
  });
  const id = ((await set.json()) as { freeze: { id: string } }).freeze.id;
  await killSecond();
  return id;
}

async function killSecond(): Promise<void> {
  host(1).child.kill('SIGKILL');
  await waitForExit(host(1).child);
}

async function runEnded(runId: string): Promise<RunBody> {
  return until('the run to end', async () => {
    await pollOnFirstHost();
    const run = await getRun(runId);
    return ['succeeded', 'failed', 'cancelled'].includes(run.status) ? run : undefined;
  });
}

afterAll(async () => {
  for (const x of [...everything].reverse()) await x.stop();
});

describe('a host killed while it creates the deployments, a freeze set at that moment', () => {
  it('the other host creates nothing while frozen, gives the claims back, and deploys each project once after the lift', async () => {
    await startWorld();
    // The second host's first create call: set the freeze, kill the host, never let the call through.
    let crash: Promise<string> | undefined;
    gate.decide = async ({ method, path }) => {
      if (method !== 'POST' || !/\/deployments$/.test(path)) return 'forward';
      crash ??= freezeAndKill();
      await crash;
      return 'drop';
    };
    const runId = await startOnSecondHost('to-production');
    const freezeId = (await crash) ?? '';
    expect(freezeId).not.toBe('');
    // It died holding both claims, its creates recorded as intents whose outcome nobody knows.
    const atCrash = await getRun(runId);
    const deploys = atCrash.stages.flatMap((s) => s.actions);
    expect(deploys.map((a) => a.status).sort()).toEqual(['starting', 'starting']);
    expect((await heldClaims()).length).toBe(2);

    // The first host takes over once the dead one's run lease ends: both deploys wait on the freeze,
    // their claims given back, nothing created.
    const frozen = await until('the first host to hold both deploys on the freeze', async () => {
      await pollOnFirstHost();
      const run = await getRun(runId);
      const actions = run.stages.flatMap((s) => s.actions);
      if ((await deploymentsOfRun(runId)).length > 0) return run; // created during the freeze: fails below
      return actions.every((a) => a.frozen) && (await heldClaims()).length === 0 ? run : undefined;
    });
    expect(await deploymentsOfRun(runId)).toEqual([]);
    expect(frozen.status).toBe('running');
    expect(frozen.stages.flatMap((s) => s.actions).map((a) => a.frozen?.why)).toEqual([
      expect.stringContaining(freezeId),
      expect.stringContaining(freezeId),
    ]);
    expect(await deploymentsOfRun(runId)).toEqual([]);

    // Lifted: the next check (within 30 s) deploys each project exactly once.
    const lift = await fetch(`${host(0).url}/api/freezes/${freezeId}`, { method: 'DELETE' });
    expect(lift.status).toBe(200);
    const done = await runEnded(runId);
    expect(done.status).toBe('succeeded');
    expect(await deploymentsOfRun(runId)).toEqual(['Database', 'Web API']);
    expect(await heldClaims()).toEqual([]);
  }, 200_000);

  it('killed just after taking the claims (onFreeze: fail): the run fails, the claims are given back, the next promotion deploys at once', async () => {
    await startWorld();
    // The second host's first Octopus read once it holds a deploy claim (the read again under the
    // claim, before the claim is recorded on the run): set the freeze, kill the host.
    let crash: Promise<string> | undefined;
    gate.decide = async ({ method }) => {
      if (!crash) {
        if (method !== 'GET' || (await heldClaims()).length === 0) return 'forward';
        crash ??= freezeAndKill();
      }
      await crash;
      return 'drop';
    };
    const runId = await startOnSecondHost('to-production-or-fail');
    const freezeId = (await crash) ?? '';
    expect(freezeId).not.toBe('');
    expect((await heldClaims()).length).toBeGreaterThan(0);

    const failed = await runEnded(runId);
    expect(failed.status).toBe('failed');
    expect(await deploymentsOfRun(runId)).toEqual([]);
    // Nothing holds the targets for a run that has ended.
    expect(await heldClaims()).toEqual([]);

    // After the lift, the promotion again: it deploys at once, each project once.
    const lift = await fetch(`${host(0).url}/api/freezes/${freezeId}`, { method: 'DELETE' });
    expect(lift.status).toBe(200);
    const secondRun = await startRun(host(0), 'to-production');
    const done = await runEnded(secondRun);
    expect(done.status).toBe('succeeded');
    expect(await deploymentsOfRun(secondRun)).toEqual(['Database', 'Web API']);
  }, 200_000);
});

describe('Octopus created the deployment, the answer was lost', () => {
  it('the host is killed before it hears of it: the other host finds that deployment and follows it, creates the other: each project deployed once, the run succeeds', async () => {
    await startWorld();
    // The second host's first create reaches Octopus; its answer is lost and the host killed before
    // the gate lets the connection go. Anything it sends after that never reaches Octopus.
    let lost = false;
    let killed: Promise<void> | undefined;
    let answered = 0;
    gate.decide = async ({ method, path }) => {
      if (!lost) {
        if (method !== 'POST' || !/\/deployments$/.test(path)) return 'forward';
        lost = true;
        return 'forward then drop';
      }
      await until('the answer of the first create to be lost', async () =>
        killed ? true : undefined,
      );
      await killed;
      return 'drop';
    };
    gate.answerLost = async ({ status }) => {
      answered = status;
      killed = killSecond();
      await killed;
    };
    const runId = await startOnSecondHost('to-production');
    await killed;
    expect(answered).toBe(201);
    // Octopus holds exactly the one deployment whose answer was lost; the run says only that a create
    // was begun (its outcome unknown to the run).
    const created = await productionDeployments(runId);
    expect(created).toHaveLength(1);
    const atCrash = await getRun(runId);
    const lostAction = atCrash.stages
      .flatMap((s) => s.actions)
      .find((a) => a.project === created[0]?.project);
    expect(lostAction?.status).toBe('starting');
    expect(lostAction?.deploymentId).toBeUndefined();

    // The first host takes the run over: it follows the deployment Octopus created, and creates the
    // other project's once.
    const done = await runEnded(runId);
    expect(done.status).toBe('succeeded');
    expect(await deploymentsOfRun(runId)).toEqual(['Database', 'Web API']);
    const followed = done.stages
      .flatMap((s) => s.actions)
      .find((a) => a.project === created[0]?.project);
    expect(followed).toMatchObject({ status: 'succeeded', deploymentId: created[0]?.id });
    expect(await heldClaims()).toEqual([]);
  }, 200_000);

  it('the host lives on: it finds the deployment before creating again, follows it, each project deployed once', async () => {
    await startWorld();
    // The second host's first create reaches Octopus; the answer is lost (the connection breaks).
    // Only the second host advances the run (the first one's status poll is never fired).
    let lost = false;
    let answered = 0;
    let created = '';
    gate.decide = ({ method, path }) => {
      if (lost || method !== 'POST' || !/\/deployments$/.test(path)) return 'forward';
      lost = true;
      return 'forward then drop';
    };
    gate.answerLost = ({ status, body }) => {
      answered = status;
      created = (JSON.parse(body) as { Id: string }).Id;
    };
    const runId = await startRun(host(1), 'to-production');
    expect(answered).toBe(201);
    expect(created).not.toBe('');

    const done = await until('the run to end', async () => {
      const run = await getRun(runId);
      return ['succeeded', 'failed', 'cancelled'].includes(run.status) ? run : undefined;
    });
    expect(done.status).toBe('succeeded');
    expect(await deploymentsOfRun(runId)).toEqual(['Database', 'Web API']);
    const followed = done.stages
      .flatMap((s) => s.actions)
      .filter((a) => a.deploymentId === created);
    expect(followed).toEqual([expect.objectContaining({ status: 'succeeded' })]);
    expect(await heldClaims()).toEqual([]);
  }, 200_000);
});
