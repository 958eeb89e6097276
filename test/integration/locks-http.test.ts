// The lock API on the dev host, driven by the shell client (infra/octopus/coordinator-lock.sh) and by fetch.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevHostProcess, type DevHostProcess } from '../helpers/devHostProcess.js';
import { runStepTemplate } from '../helpers/stepTemplate.js';

const script = resolve('infra/octopus/coordinator-lock.sh');
let dev: DevHostProcess;

beforeAll(async () => {
  dev = await startDevHostProcess({ args: ['--no-timers'] });
}, 90_000);

afterAll(async () => {
  await dev?.stop();
});

function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      'bash',
      [script, ...args],
      { env: { ...process.env, COORDINATOR_URL: dev.url, ...env } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        done({ code, stdout: stdout.trim(), stderr });
      },
    );
  });
}

async function api(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${dev.url}/api/${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('coordinator-lock.sh against the dev host', () => {
  it('says which key to set, and where, when the app answers 401 with an empty body as Azure does', async () => {
    const { createServer } = await import('node:http');
    const azureLike = createServer((_req, res) => res.writeHead(401).end());
    await new Promise<void>((r) => azureLike.listen(0, '127.0.0.1', () => r()));
    const address = azureLike.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    try {
      const noKey = await run(['status'], { COORDINATOR_URL: url, COORDINATOR_KEY: '' });
      expect(noKey.code).toBe(1);
      expect(noKey.stderr).toContain(
        'status failed (401): no valid function key: set COORDINATOR_KEY',
      );
      expect(noKey.stderr).toContain('x-functions-key');
      const wrongKey = await run(['status'], { COORDINATOR_URL: url, COORDINATOR_KEY: 'nope' });
      expect(wrongKey.stderr).toContain('the key set now was refused');
      expect(wrongKey.stderr).not.toContain('nope');
    } finally {
      await new Promise((r) => azureLike.close(r));
    }
  });

  it('acquires, makes the next caller wait and time out, releases, and hands over', async () => {
    const lock = 'web01/step b: "deploy" #1';
    const first = await run(['acquire', lock, '--holder', 'tenant A', '--ttl', '120']);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^1\.[0-9a-f]{24}$/);

    // Another run with the same --holder text is another request (its own random request id).
    const sameName = await run(['acquire', lock, '--holder', 'tenant A', '--wait', '0']);
    expect(sameName).toMatchObject({ code: 2, stdout: '' });

    const second = await run(['acquire', lock, '--holder', 'tenant B', '--wait', '1']);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/position 1/);
    // Both gave up their places as they gave up, so the next caller is first in line.
    expect(second.stderr).toMatch(/left the queue/);
    expect((await api('GET', `locks/${encodeURIComponent(lock)}`)).json.waiters).toEqual([]);

    const waiting = run(['acquire', lock, '--holder', 'tenant B', '--wait', '30']);
    await new Promise((r) => setTimeout(r, 300));
    const status = await run(['status', lock]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      name: lock,
      holders: [{ holder: 'tenant A', fence: 1 }],
    });

    expect((await run(['release', lock, first.stdout])).code).toBe(0);
    const handedOver = await waiting;
    expect(handedOver.code).toBe(0);
    expect(handedOver.stdout).toMatch(/^2\./);

    // The old lease is no longer the holder's: renew is refused with exit 3; a stranger's release too.
    expect((await run(['renew', lock, first.stdout])).code).toBe(3);
    expect((await run(['release', lock, `2.${'a'.repeat(24)}`])).code).toBe(3);
    expect((await run(['release', lock, handedOver.stdout])).code).toBe(0);
  });

  it('fails clearly when the coordinator is unreachable or the input is bad', async () => {
    const unreachable = await run(['acquire', 'x', '--wait', '0'], {
      COORDINATOR_URL: 'http://127.0.0.1:9',
    });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/did not answer/);
    const bad = await run(['acquire', 'x', '--task', 'task-12']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/octopusTaskId/);
  });
});

describe('the lock HTTP API', () => {
  it('answers 400 naming the field, 409 for strangers and permit mismatches, 404 for unknown locks', async () => {
    const bad = await api('POST', 'locks/a/acquire', { holder: 'x', ttlSeconds: 0, ttl: 5 });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toMatch(/ttlSeconds/);
    expect(JSON.stringify(bad.json)).toMatch(/ttl/);
    expect((await api('POST', 'locks/a/release', {})).status).toBe(400);

    const granted = await api('POST', 'locks/pool%2F1/acquire', { holder: 'x', permits: 2 });
    expect(granted).toMatchObject({
      status: 200,
      json: { granted: true, fence: 1, lock: 'pool/1' },
    });
    expect(
      (await api('POST', 'locks/pool%2F1/acquire', { holder: 'y', permits: 3 })).json,
    ).toMatchObject({
      error: { code: 'permits_mismatch' },
    });
    const stranger = await api('POST', 'locks/pool%2F1/release', {
      leaseId: `1.${'0'.repeat(24)}`,
    });
    expect(stranger).toMatchObject({ status: 409, json: { error: { code: 'not_holder' } } });
    expect((await api('GET', 'locks/never%20used')).status).toBe(404);

    const list = await api('GET', 'locks');
    expect(list.json.locks).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'pool/1', holders: ['x'] })]),
    );
    const withHistory = await api('GET', 'locks/pool%2F1?history=true');
    expect(withHistory.json).toMatchObject({
      permits: 2,
      overlaps: [],
      history: [{ fence: 1, state: 'held' }],
    });
  });

  it('leave gives up a place at once by its requestId; a holder is told to release', async () => {
    const first = await api('POST', 'locks/leaving/acquire', { holder: 'A', requestId: 'req-a' });
    expect(first.status).toBe(200);
    await api('POST', 'locks/leaving/acquire', { holder: 'B', requestId: 'req-b' });
    const c = await api('POST', 'locks/leaving/acquire', { holder: 'C', requestId: 'req-c' });
    expect(c.json).toMatchObject({ position: 2 });

    expect(await api('POST', 'locks/leaving/leave', { requestId: 'req-b' })).toEqual({
      status: 200,
      json: { lock: 'leaving', left: true },
    });
    expect(
      (await api('POST', 'locks/leaving/acquire', { holder: 'C', requestId: 'req-c' })).json,
    ).toMatchObject({ position: 1 });
    expect(await api('POST', 'locks/leaving/leave', { requestId: 'req-unknown' })).toEqual({
      status: 200,
      json: { lock: 'leaving', left: false },
    });
    const holder = await api('POST', 'locks/leaving/leave', { requestId: 'req-a' });
    expect(holder).toMatchObject({ status: 409, json: { error: { code: 'holds_lease' } } });
    expect(JSON.stringify(holder.json)).toMatch(/release/);
    const empty = await api('POST', 'locks/leaving/leave', {});
    expect(empty.status).toBe(400);
    expect(JSON.stringify(empty.json)).toMatch(/requestId/);
    await api('POST', 'locks/leaving/release', { leaseId: first.json.leaseId });
  });

  it('a long-poll answers as soon as the lease is released', async () => {
    const first = await api('POST', 'locks/poll/acquire', { holder: 'A' });
    const waiting = api('POST', 'locks/poll/acquire', { holder: 'B', wait: 20 });
    await new Promise((r) => setTimeout(r, 300));
    await api('POST', 'locks/poll/release', { leaseId: first.json.leaseId });
    const second = await waiting;
    expect(second).toMatchObject({ status: 200, json: { granted: true, holder: 'B', fence: 2 } });
  });
});

describe('the Bash step templates against the dev host', () => {
  const deployment = (tenant: string, task: string) => ({
    'Coordinator.Url': dev.url,
    'Octopus.Project.Name': 'Shop',
    'Octopus.Step.Name': 'Lock step b',
    'Octopus.Machine.Name': 'web01',
    'Octopus.Machine.Id': 'Machines-1',
    'Octopus.Action.Id': 'action-1',
    'Octopus.Release.Number': '1.2.3',
    'Octopus.Environment.Name': 'Production',
    'Octopus.Deployment.Tenant.Name': tenant,
    'Octopus.Task.Id': task,
  });

  it('acquire sets the output variables; a second tenant waits and times out; release frees it', async () => {
    const a = await runStepTemplate(
      'coordinator-acquire-lock-bash.json',
      deployment('Tenant A', 'ServerTasks-100'),
    );
    expect(a.code).toBe(0);
    expect(a.outputs).toMatchObject({
      CoordinatorLockName: 'Shop/Lock step b/web01',
      CoordinatorFence: '1',
    });
    expect(a.outputs.CoordinatorLeaseId).toMatch(/^1\./);

    const b = await runStepTemplate('coordinator-acquire-lock-bash.json', {
      ...deployment('Tenant B', 'ServerTasks-101'),
      'CoordinatorLock.WaitSeconds': '1',
    });
    expect(b.code).toBe(1);
    const lock = await api('GET', `locks/${encodeURIComponent('Shop/Lock step b/web01')}`);
    expect(lock.json).toMatchObject({
      holders: [{ octopusTaskId: 'ServerTasks-100' }],
      waiters: [{ octopusTaskId: 'ServerTasks-101' }],
    });

    // The release step names the acquire step (Octopus's StepName control); outputs are read by that name.
    const acquireStep = 'Lock step b';
    const afterAcquire = {
      'Coordinator.Url': dev.url,
      'CoordinatorLock.AcquireStep': acquireStep,
      [`Octopus.Action[${acquireStep}].Output.CoordinatorLeaseId`]:
        a.outputs.CoordinatorLeaseId ?? '',
      [`Octopus.Action[${acquireStep}].Output.CoordinatorLockName`]:
        a.outputs.CoordinatorLockName ?? '',
      [`Octopus.Step[${acquireStep}].Status.Code`]: 'Succeeded',
    };
    const released = await runStepTemplate('coordinator-release-lock-bash.json', afterAcquire);
    expect(released.code).toBe(0);
    expect(released.stdout).toMatch(/released/);
    // Released again (the 'always' step of a retried deployment): a warning, not a failure.
    const again = await runStepTemplate('coordinator-release-lock-bash.json', afterAcquire);
    expect(again.code).toBe(0);
    // The acquire step failed on this target: nothing to release, and that is fine.
    const none = await runStepTemplate('coordinator-release-lock-bash.json', {
      'Coordinator.Url': dev.url,
      'CoordinatorLock.AcquireStep': acquireStep,
      [`Octopus.Step[${acquireStep}].Status.Code`]: 'Failed',
    });
    expect(none).toMatchObject({ code: 0 });
    expect(none.stdout).toMatch(/nothing to release/);

    const b2 = await runStepTemplate(
      'coordinator-acquire-lock-bash.json',
      deployment('Tenant B', 'ServerTasks-101'),
    );
    expect(b2.code).toBe(0);
    expect(b2.outputs.CoordinatorFence).toBe('2');
  });
});

describe('the shell client without a coordinator', () => {
  it('prints its help on --help (exit 0), even with COORDINATOR_URL unset', async () => {
    const help = await new Promise<{ code: number; stdout: string }>((done) => {
      const env = { ...process.env };
      delete env.COORDINATOR_URL;
      execFile('bash', [script, '--help'], { env }, (err, stdout) =>
        done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout }),
      );
    });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^coordinator-lock\.sh: take, renew and free/);
    expect(help.stdout).not.toMatch(/set -euo pipefail/);
  });
});
