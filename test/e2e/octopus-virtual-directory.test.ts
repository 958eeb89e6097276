// Octopus installed under a virtual directory (https://host/octopus), configured with or without a
// trailing /api: the report, a status poll, ensure-deployed and the run it starts all work, and
// health tells a wrong key (unauthorized) from a server that is not there (unreachable).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOctopusSimulator, type OctopusSimulator } from '../../dev/octopus-sim/index.js';
import { pollOnce } from '../../shared/app/poll.js';
import { checkHealth } from '../../shared/health/health.js';
import { createOctopusClient } from '../../shared/octopus/client.js';
import { createRuntime } from '../../shared/runtime/runtime.js';
import { startDevHostProcess, type DevHostProcess } from '../helpers/devHostProcess.js';

let sim: OctopusSimulator;
let dev: DevHostProcess;

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0, pathPrefix: '/octopus' });
  sim.setStepDuration({ ms: 200 });
  dev = await startDevHostProcess({
    args: ['--no-timers'],
    // The form many users copy from their browser's API docs: ending in /api.
    env: { OCTOPUS_URL: `${sim.url}/api`, OCTOPUS_API_KEY: sim.apiKey },
  });
}, 180_000);

afterAll(async () => {
  await dev?.stop();
  await sim?.stop();
});

describe('the simulator under a virtual directory', () => {
  it('serves the API only below it, with Links that carry it', async () => {
    expect(sim.url).toMatch(/\/octopus$/);
    const outside = await fetch(`${new URL(sim.url).origin}/api/Spaces-1/projects/all`, {
      headers: { 'x-octopus-apikey': sim.apiKey },
    });
    expect(outside.status).toBe(404);
    const root = (await (await fetch(`${sim.url}/api`)).json()) as {
      Links: Record<string, string>;
    };
    expect(root.Links.Self).toBe('/octopus/api');
    expect(root.Links.CurrentUser).toBe('/octopus/api/users/me');
  });
});

describe('the client under a virtual directory', () => {
  it.each([
    ['base URL', ''],
    ['URL ending in /api', '/api'],
    ['URL ending in /api/', '/api/'],
  ])('reads, follows Links and builds task pages with the %s', async (_name, suffix) => {
    const client = createOctopusClient({
      url: `${sim.url}${suffix}`,
      apiKey: sim.apiKey,
      space: 'Default',
    });
    expect(client.url).toBe(sim.url);
    const projects = await client.projects.all();
    expect(projects.map((p) => p.Name)).toContain('Web App');
    const root = (await client.getLink('/octopus/api')) as { Version: string };
    expect(root.Version).toMatch(/^\d{4}\./);
    expect(await client.serverVersion()).toBe(root.Version);
    const page = (await client.getLink(`/api/${await client.spaceId()}/deployments{?take}`, {
      take: 1,
    })) as { Items: unknown[] };
    expect(page.Items).toHaveLength(1);
    expect(client.webUrl('/octopus/app#/Spaces-1/tasks/ServerTasks-1')).toBe(
      `${sim.url}/app#/Spaces-1/tasks/ServerTasks-1`,
    );
    expect(client.webUrl('/app#/Spaces-1/tasks/ServerTasks-1')).toBe(
      `${sim.url}/app#/Spaces-1/tasks/ServerTasks-1`,
    );
  });
});

describe('the coordinator under a virtual directory', () => {
  it('builds the daily report (task links included) instead of 404s', async () => {
    const day = new Date(sim.now() - 1500 * 60_000).toISOString().slice(0, 10);
    const res = await fetch(`${dev.url}/api/reports/daily?date=${day}&zone=UTC`);
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(html).toMatch(/Web App|Database|Web API/);
    expect(html).toContain(`${sim.url}/app#/`);
    expect(html).not.toMatch(/href="http:\/\/127\.0\.0\.1:\d+\/app#/);
  }, 60_000);

  it('reads the status in a poll', async () => {
    const runtime = await createRuntime({
      env: { ...process.env, OCTOPUS_URL: `${sim.url}/api/`, OCTOPUS_API_KEY: sim.apiKey },
    });
    const log = {
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
    };
    const result = await pollOnce(runtime, log as never);
    expect(result.ran).toBe(true);
  }, 60_000);

  it('ensure-deployed starts a run that deploys and succeeds', async () => {
    const started = await fetch(`${dev.url}/api/ensure-deployed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ project: 'Database', environment: 'Production' }),
    });
    expect(started.status).toBe(202);
    const { runId } = (await started.json()) as { runId: string };
    const deadline = Date.now() + 45_000;
    let run: { status: string } = { status: 'unknown' };
    while (Date.now() < deadline) {
      run = (await (await fetch(`${dev.url}/api/runs/${runId}`)).json()) as { status: string };
      if (['succeeded', 'failed', 'cancelled'].includes(run.status)) break;
      // No webhooks from this server: the status poll (run by hand, timers are off) moves the run on.
      await fetch(`${dev.url}/admin/functions/statusPoll`, { method: 'POST' });
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(run.status, `${JSON.stringify(run)}\n${dev.output().slice(-3000)}`).toBe('succeeded');
  }, 60_000);
});

describe('health', () => {
  const runtimeWith = (url: string, apiKey: string) =>
    createRuntime({ env: { ...process.env, OCTOPUS_URL: url, OCTOPUS_API_KEY: apiKey } });

  it('says ok with the version and user for a working key', async () => {
    const report = await checkHealth(await runtimeWith(sim.url, sim.apiKey), 'test');
    expect(report.octopus).toMatchObject({ state: 'ok', reachable: true, user: 'api-user' });
    expect(report.octopus.version).toMatch(/^2026\./);
  });

  it('says unauthorized (not unreachable) for a wrong key, although GET /api answers without one', async () => {
    const report = await checkHealth(
      await runtimeWith(sim.url, 'API-WRONGKEY000000000000000000'),
      'test',
    );
    expect(report.octopus.state).toBe('unauthorized');
    expect(report.octopus.reachable).toBe(true);
    expect(report.octopus.error).toMatch(/OCTOPUS_API_KEY/);
    expect(report.status).not.toBe('ok');
  });

  it('says unreachable when nothing answers', async () => {
    const report = await checkHealth(
      await runtimeWith('http://127.0.0.1:9/octopus', 'API-X'),
      'test',
    );
    expect(report.octopus.state).toBe('unreachable');
    expect(report.octopus.reachable).toBe(false);
  });
});
