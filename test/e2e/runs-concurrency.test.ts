// End to end: runs started at the same moment, through the dev host (`node dist/dev/start.js`, one or
// two instances on one Azurite) against the Octopus simulator, with the shipped coordination.example.json.
// What a user did: two POST /api/runs of release-web-stack in Development at once deployed Database
// twice. A run belongs to a concurrency group (queue by default), and the coordinator never has two
// deployments of its own active for one project × environment × tenant.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0 });
});
afterAll(async () => {
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
  for (const h of hosts) await h.stop();
  hosts = [];
});

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
    const first = await startDevHostProcess({ waitForHealth: false, env: { ...env } });
    await first.stop();
    const path = join(first.dataDir, 'coordination.json');
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
  stages: { actions: { id: string; status: string; note?: string; decision?: string }[] }[];
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
    const [host] = await startHosts(1);
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
});
