// Rules end to end, as a new user meets them: `npm start` (dev host, simulator, Azurite, outbox) with the
// shipped coordination.example.json, a playbook run whose Web App deploy is scripted to fail, and the
// rule web-stack-after-database listening for Database deployments in Development.
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect } from '../../shared/octopus/paging.js';
import { createOctopusClient, type OctopusClient } from '../../shared/octopus/client.js';
import { startDevHostProcess, type DevHostProcess } from '../helpers/devHostProcess.js';

const simulatorKey = 'API-SIMULATOR0000000000000000000';

interface RunSummaryJson {
  id: string;
  status: string;
  name: string;
  trigger?: { kind: string; by?: string };
}

let dev: DevHostProcess;
let octopus: OctopusClient;

async function call(method: string, url: string, body?: unknown): Promise<unknown> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', 'X-Octopus-ApiKey': simulatorKey },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

const sim = (path: string, body?: unknown) =>
  call(body === undefined ? 'GET' : 'POST', `http://127.0.0.1:${dev.ports.simulator}${path}`, body);
const app = (method: string, path: string, body?: unknown) =>
  call(method, `${dev.url}${path}`, body);

async function listRuns(): Promise<RunSummaryJson[]> {
  const answer = (await app('GET', '/api/runs')) as { runs: RunSummaryJson[] };
  return answer.runs;
}

/** Each project's current release (latest deployment, any state) and last successful release there. */
async function releasesIn(environment: string): Promise<Record<string, string>> {
  const environmentId = await octopus.resolve.environmentId(environment);
  const out: Record<string, string> = {};
  for (const project of ['Database', 'Web API', 'Web App']) {
    const projectId = await octopus.resolve.projectId(project);
    const [latest] = await collect(
      octopus.deployments.list({
        projects: [projectId],
        environments: [environmentId],
        taskState: 'Success',
        maxItems: 1,
      }),
    );
    const release = latest ? await octopus.releases.get(latest.ReleaseId) : undefined;
    out[project] = release?.Version ?? 'none';
  }
  return out;
}

async function deploymentCount(environment: string): Promise<number> {
  const environmentId = await octopus.resolve.environmentId(environment);
  return (await collect(octopus.deployments.list({ environments: [environmentId] }))).length;
}

function outboxEmails(): string[] {
  try {
    return readdirSync(dev.outboxDir).filter((f) => f.endsWith('.eml'));
  } catch {
    return [];
  }
}

/** Poll the way the timer would, until `check` holds. */
async function until(check: () => Promise<boolean>, what: string, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}\n${dev.output()}`);
    await fetch(`${dev.url}/admin/functions/statusPoll`, { method: 'POST' }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  dev = await startDevHostProcess({ args: ['--no-timers'] });
  octopus = createOctopusClient({
    url: `http://127.0.0.1:${dev.ports.simulator}`,
    apiKey: simulatorKey,
    space: 'Default',
  });
  await sim('/_sim/step-duration', { ms: 150 });
  await sim('/_sim/webhook-interval', { ms: 100 });
}, 90_000);

afterAll(async () => {
  await dev?.stop();
});

describe('rules with the shipped example config', () => {
  it('a failed, rolled-back run in Development starts no rule run and leaves the set where it was', async () => {
    // The first poll announces what is already live (README: "On first start ..."): not ours to count.
    await until(async () => outboxEmails().length > 0, 'the first-start announcements');
    await new Promise((r) => setTimeout(r, 1000));
    const emailsBefore = outboxEmails().length;
    const developmentBefore = await releasesIn('Development');
    const testDeploymentsBefore = await deploymentCount('Test');
    // A new Web App release, so the run has something to deploy there (and it fails).
    await sim('/_sim/releases', { project: 'Database', version: '1.7.0' });
    await sim('/_sim/releases', { project: 'Web App', version: '3.3.0' });
    await sim('/_sim/script', { project: 'Web App', environment: 'Development', count: 5 });
    await sim('/_sim/script', { project: 'Web App', environment: 'Test', count: 5 });

    const started = (await app('POST', '/api/runs', {
      playbook: 'release-web-stack',
      environment: 'Development',
    })) as { id: string };

    await until(async () => {
      const runs = await listRuns();
      const mine = runs.find((r) => r.id === started.id);
      return mine !== undefined && ['failed', 'succeeded', 'cancelled'].includes(mine.status);
    }, 'the run to end');
    // Give webhooks and any rule-started runs time to show themselves, then let them all finish.
    await sim('/_sim/webhooks/flush', {});
    await until(async () => {
      const runs = await listRuns();
      return runs.every((r) => ['failed', 'succeeded', 'cancelled'].includes(r.status));
    }, 'every run to end');
    await new Promise((r) => setTimeout(r, 1500));
    await fetch(`${dev.url}/admin/functions/statusPoll`, { method: 'POST' });
    await until(async () => {
      const runs = await listRuns();
      return runs.every((r) => ['failed', 'succeeded', 'cancelled'].includes(r.status));
    }, 'every run to end');

    const runs = await listRuns();
    expect(
      runs.map((r) => `${r.name} ${r.status}`),
      'runs after the reproduction',
    ).toEqual(['release-web-stack failed']);
    expect(await releasesIn('Development')).toEqual(developmentBefore);
    expect(await deploymentCount('Test'), 'deployments in Test').toBe(testDeploymentsBefore);
    // The run's own "backend deployed" and "rolled back" notifications and its finished email.
    expect(outboxEmails().length - emailsBefore, dev.output()).toBe(3);
  }, 180_000);
});
