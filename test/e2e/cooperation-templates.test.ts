// The step templates (Bash), run as Octopus and Tentacle would against the dev host and its simulator:
// variables by Octostache's rules (an unknown #{…} stays literal), in untenanted and tenanted deployments.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevHostProcess, type DevHostProcess } from '../helpers/devHostProcess.js';
import { deploymentVariables, OctopusDeploymentRun } from '../helpers/stepTemplate.js';

let dev: DevHostProcess;
let simUrl: string;
const simKey = 'API-SIMULATOR0000000000000000000';

async function sim(path: string, body: unknown): Promise<void> {
  const res = await fetch(`${simUrl}/_sim/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.ok).toBe(true);
}

async function octopus<T>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${simUrl}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'x-octopus-apikey': simKey, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(res.status).toBeLessThan(300);
  return (await res.json()) as T;
}

/** Queues a deployment in the simulator (as someone clicking Deploy) and returns its task id. */
async function deployInOctopus(
  project: string,
  version: string,
  environment: string,
  tenant?: string,
) {
  const projects = await octopus<{ Id: string; Name: string }[]>('/api/Spaces-1/projects/all');
  const projectId = projects.find((x) => x.Name === project)?.Id ?? '';
  const release = await octopus<{ Id: string }>(
    `/api/Spaces-1/projects/${projectId}/releases/${version}`,
  );
  const envs = await octopus<{ Id: string; Name: string }[]>('/api/Spaces-1/environments/all');
  const tenants = await octopus<{ Id: string; Name: string }[]>('/api/Spaces-1/tenants/all');
  const d = await octopus<{ Id: string; TaskId: string }>('/api/Spaces-1/deployments', {
    ReleaseId: release.Id,
    ProjectId: projectId,
    EnvironmentId: envs.find((e) => e.Name === environment)?.Id,
    TenantId: tenant ? tenants.find((t) => t.Name === tenant)?.Id : null,
  });
  return d.TaskId;
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

const untenanted = (project: string, environment: string, taskId?: string) =>
  new OctopusDeploymentRun(
    deploymentVariables({ project, environment, ...(taskId ? { taskId } : {}) }),
    { 'Coordinator.Url': dev.url },
  );
const tenanted = (project: string, environment: string, tenant: string, taskId?: string) =>
  new OctopusDeploymentRun(
    deploymentVariables({ project, environment, tenant, ...(taskId ? { taskId } : {}) }),
    { 'Coordinator.Url': dev.url },
  );

describe('Coordinator - Ensure project deployed (Bash)', () => {
  it('works in an untenanted deployment: the tenant default resolves to none, not to literal #{…}', async () => {
    const result = await untenanted('Shop', 'Test').runStep(
      'coordinator-ensure-deployed-bash.json',
      'Ensure database',
      { 'Coordinator.Project': 'Database' },
    );
    expect(result.stderr).not.toMatch(/refused/);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Database 1\.6\.0 is already deployed to Test\./);
  });

  it('works in a tenanted deployment: the tenant is passed on', async () => {
    const result = await tenanted('Shop', 'Test', 'Acme Corp').runStep(
      'coordinator-ensure-deployed-bash.json',
      'Ensure worker',
      { 'Coordinator.Project': 'Billing Worker' },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /Billing Worker 1\.0\.0 is already deployed to Test for Acme Corp/,
    );
  });

  it('treats a parameter that is still an unresolved #{…} as unset, and says so', async () => {
    const result = await untenanted('Shop', 'Test').runStep(
      'coordinator-ensure-deployed-bash.json',
      'Ensure database',
      {
        'Coordinator.Project': 'Database',
        'Coordinator.Tenant': '#{Octopus.Deployment.Tenant.Name}',
      },
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /Coordinator\.Tenant is '#\{Octopus\.Deployment\.Tenant\.Name\}'.*not set/,
    );
  });

  it('deploys what is missing through a coordinator run and waits for it to succeed', async () => {
    await sim('step-duration', { ms: 200 });
    const result = await untenanted('Shop', 'Production').runStep(
      'coordinator-ensure-deployed-bash.json',
      'Ensure database',
      { 'Coordinator.Project': 'Database', 'Coordinator.WaitMinutes': '2' },
    );
    expect(result.stdout).toMatch(
      /Database 1\.6\.0 is being deployed to Production by coordinator run \S+ \(started\)/,
    );
    expect(result.stdout).toMatch(/succeeded: Database is deployed/);
    expect(result.code).toBe(0);
  }, 60_000);
});

describe('Coordinator - Wait for project step (Bash)', () => {
  it('started two seconds before a new deployment, waits for that one, not the eight-day-old one', async () => {
    await sim('step-duration', { ms: 1500 });
    // This (waiting) deployment: Web API to Production, queued now.
    const waitingTask = await deployInOctopus('Web API', '2.18.0', 'Production');
    const run = untenanted('Web API', 'Production', waitingTask).runStep(
      'coordinator-wait-for-step-bash.json',
      'Wait for CDN',
      {
        'Coordinator.Project': 'Web App',
        'Coordinator.Step': 'Purge CDN',
        'Coordinator.TimeoutMinutes': '2',
      },
    );
    await new Promise((r) => setTimeout(r, 2000));
    const started = await fetch(`${dev.url}/api/ensure-deployed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ project: 'Web App', environment: 'Production' }),
    });
    expect(started.status).toBe(202);
    const result = await run;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // Web App 3.1.0 finished "Purge CDN" in Production eight days ago; that must not count.
    expect(result.stdout).not.toMatch(/3\.1\.0 has finished/);
    expect(result.stdout).toMatch(
      /Web App 3\.2\.0 has finished step 2 \(Purge CDN\) in Production/,
    );
  }, 90_000);

  it('works in a tenanted deployment, for that tenant', async () => {
    await sim('step-duration', { ms: 300 });
    const waitingTask = await deployInOctopus('Billing Worker', '1.0.0', 'Production', 'Globex');
    const run = tenanted('Billing Worker', 'Production', 'Acme Corp', waitingTask).runStep(
      'coordinator-wait-for-step-bash.json',
      'Wait for worker',
      {
        'Coordinator.Project': 'Billing Worker',
        'Coordinator.Step': '2',
        'Coordinator.TimeoutMinutes': '2',
      },
    );
    await new Promise((r) => setTimeout(r, 1000));
    await deployInOctopus('Billing Worker', '1.0.0', 'Production', 'Acme Corp');
    const result = await run;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /Billing Worker 1\.0\.0 has finished step 2 \(Deploy worker\) in Production for Acme Corp/,
    );
  }, 90_000);

  it('answers 400 with the step names when the step name matches none', async () => {
    const res = await fetch(
      `${dev.url}/api/progress?project=Web%20App&environment=Test&step=Purge%20cache`,
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(
      /no step named "Purge cache".*1: Deploy web app, 2: Purge CDN, 3: Smoke test/,
    );
  }, 90_000);
});

describe('Coordinator - Acquire lock / Release lock (Bash)', () => {
  it.each([
    ['untenanted', undefined],
    ['tenanted', 'Acme Corp'],
  ])(
    'in a %s deployment: acquire sets outputs, release (by step name) frees the lock',
    async (_kind, tenant) => {
      const run = new OctopusDeploymentRun(
        deploymentVariables({
          project: 'Shop',
          environment: 'Test',
          ...(tenant ? { tenant } : {}),
        }),
        { 'Coordinator.Url': dev.url },
      );
      const acquired = await run.runStep('coordinator-acquire-lock-bash.json', 'Take the lock', {
        'CoordinatorLock.Name': `shop-${_kind}`,
      });
      expect(acquired.code).toBe(0);
      expect(acquired.outputs.CoordinatorLeaseId).toBeTruthy();
      const lock = (await (await fetch(`${dev.url}/api/locks/shop-${_kind}`)).json()) as {
        holders: { holder: string }[];
      };
      // The holder names the tenant only when there is one; never a literal #{…}.
      expect(lock.holders[0]?.holder).not.toMatch(/#\{/);
      if (tenant) expect(lock.holders[0]?.holder).toMatch(/for Acme Corp/);
      const released = await run.runStep('coordinator-release-lock-bash.json', 'Free the lock', {
        'CoordinatorLock.AcquireStep': 'Take the lock',
      });
      expect(released.code).toBe(0);
      expect(released.stdout).toMatch(/Lock "shop-[a-z]+" released/);
    },
  );

  it('the default lock name has no machine part when the step runs on no machine', async () => {
    const vars = deploymentVariables({ project: 'Shop', environment: 'Test' });
    delete vars['Octopus.Machine.Name'];
    const run = new OctopusDeploymentRun(vars, { 'Coordinator.Url': dev.url });
    const acquired = await run.runStep('coordinator-acquire-lock-bash.json', 'Serial step');
    expect(acquired.code).toBe(0);
    expect(acquired.outputs.CoordinatorLockName).toBe('Shop/Serial step');
  });

  it('release fails loudly when the named step never ran or ran without a lease', async () => {
    const run = untenanted('Shop', 'Test');
    const acquired = await run.runStep(
      'coordinator-acquire-lock-bash.json',
      'Coordinator - Acquire lock (Bash)',
      {
        'CoordinatorLock.Name': 'shop-misnamed',
      },
    );
    expect(acquired.code).toBe(0);
    // The old default name: no such step ran; this used to print "nothing to release" and exit 0.
    const wrong = await run.runStep('coordinator-release-lock-bash.json', 'Release', {
      'CoordinatorLock.AcquireStep': 'Coordinator - Acquire lock',
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/No step named "Coordinator - Acquire lock" has run/);
    // A step that ran and succeeded but set no lease (not an acquire step).
    run.variables['Octopus.Step[Deploy].Status.Code'] = 'Succeeded';
    const notAcquire = await run.runStep('coordinator-release-lock-bash.json', 'Release', {
      'CoordinatorLock.AcquireStep': 'Deploy',
    });
    expect(notAcquire.code).toBe(1);
    expect(notAcquire.stderr).toMatch(/ran \(Succeeded\) but left no lease/);
    // An acquire step that failed holds nothing: releasing is a no-op, not an error.
    run.variables['Octopus.Step[Lock that failed].Status.Code'] = 'Failed';
    const failed = await run.runStep('coordinator-release-lock-bash.json', 'Release', {
      'CoordinatorLock.AcquireStep': 'Lock that failed',
    });
    expect(failed.code).toBe(0);
    expect(failed.stdout).toMatch(/nothing to release/);
    const ok = await run.runStep('coordinator-release-lock-bash.json', 'Release', {
      'CoordinatorLock.AcquireStep': 'Coordinator - Acquire lock (Bash)',
    });
    expect(ok.code).toBe(0);
  });

  it('a waiting acquire logs its place and the holder at once, with its priority', async () => {
    const a = untenanted('Shop', 'Test', 'ServerTasks-900001');
    expect(
      (
        await a.runStep('coordinator-acquire-lock-bash.json', 'Lock', {
          'CoordinatorLock.Name': 'shop-wait',
        })
      ).code,
    ).toBe(0);
    const b = untenanted('Shop', 'Test', 'ServerTasks-900002');
    const started = Date.now();
    const waited = await b.runStep('coordinator-acquire-lock-bash.json', 'Lock', {
      'CoordinatorLock.Name': 'shop-wait',
      'CoordinatorLock.WaitSeconds': '3',
      'CoordinatorLock.Priority': '5',
    });
    expect(waited.code).toBe(1);
    expect(waited.stdout).toMatch(
      /Waiting for lock "shop-wait": position 1 in the queue; held by Shop 1\.0\.0 to Test on web-01 \(ServerTasks-900001\)/,
    );
    expect(Date.now() - started).toBeLessThan(20_000);
    const bad = await b.runStep('coordinator-acquire-lock-bash.json', 'Lock', {
      'CoordinatorLock.Name': 'shop-wait',
      'CoordinatorLock.Priority': '12',
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Priority must be 0-9/);
  });
});
