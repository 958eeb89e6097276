// The cooperating-project step templates (Bash), run as Tentacle would against the dev host and its simulator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevHostProcess, type DevHostProcess } from '../helpers/devHostProcess.js';
import { runStepTemplate } from '../helpers/stepTemplate.js';

let dev: DevHostProcess;
let simUrl: string;

async function sim(path: string, body: unknown): Promise<void> {
  const res = await fetch(`${simUrl}/_sim/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.ok).toBe(true);
}

beforeAll(async () => {
  dev = await startDevHostProcess({ args: ['--no-timers'] });
  const health = (await (await fetch(`${dev.url}/api/health`)).json()) as {
    octopus: { url: string };
  };
  simUrl = health.octopus.url;
}, 90_000);

afterAll(async () => {
  await dev?.stop();
});

describe('Coordinator - Ensure project deployed (Bash)', () => {
  it('passes at once when the release is already current', async () => {
    const result = await runStepTemplate('coordinator-ensure-deployed-bash.json', {
      'Coordinator.Url': dev.url,
      'Coordinator.Project': 'Database',
      'Octopus.Environment.Name': 'Test',
      'Octopus.Deployment.Tenant.Name': '',
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Database 1\.6\.0 is already deployed to Test/);
  });

  it('deploys what is missing through a coordinator run and waits for it to succeed', async () => {
    await sim('step-duration', { ms: 200 });
    const result = await runStepTemplate('coordinator-ensure-deployed-bash.json', {
      'Coordinator.Url': dev.url,
      'Coordinator.Project': 'Database',
      'Coordinator.WaitMinutes': '2',
      'Octopus.Environment.Name': 'Production',
      'Octopus.Deployment.Tenant.Name': '',
    });
    expect(result.stdout).toMatch(
      /Database 1\.6\.0 is being deployed to Production by coordinator run \S+ \(started\)/,
    );
    expect(result.stdout).toMatch(/succeeded: Database is deployed/);
    expect(result.code).toBe(0);
  }, 60_000);
});

describe('Coordinator - Wait for project step (Bash)', () => {
  it('returns once the other project has finished the step', async () => {
    await sim('step-duration', { ms: 1500 });
    const started = await fetch(`${dev.url}/api/ensure-deployed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ project: 'Web App', environment: 'Production' }),
    });
    expect(started.status).toBe(202);
    const result = await runStepTemplate('coordinator-wait-for-step-bash.json', {
      'Coordinator.Url': dev.url,
      'Coordinator.Project': 'Web App',
      'Coordinator.Step': '2',
      'Coordinator.TimeoutMinutes': '2',
      'Octopus.Environment.Name': 'Production',
      'Octopus.Deployment.Tenant.Name': '',
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /Web App 3\.2\.0 has finished step 2 \(Purge CDN\) in Production/,
    );
  }, 60_000);
});
