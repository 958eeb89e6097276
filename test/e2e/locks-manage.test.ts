// Locks people manage, through two dev-host processes on one Azurite: a force-release (admin key)
// while the holder renews, and a pool under contention from both instances with zero overlap.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevHostProcess, type DevHostProcess } from '../helpers/devHostProcess.js';
import { azuriteConnectionString } from '../../dev/azurite.js';

const adminKey = 'e2e-admin-key-0123456789abcdef';
const hosts: DevHostProcess[] = [];

beforeAll(async () => {
  const first = await startDevHostProcess({
    args: ['--no-timers'],
    env: { COORDINATOR_ADMIN_KEY: adminKey },
  });
  hosts.push(first);
  const storage = azuriteConnectionString('127.0.0.1', first.ports.azurite);
  hosts.push(
    await startDevHostProcess({
      args: ['--no-timers'],
      env: { COORDINATOR_ADMIN_KEY: adminKey, AzureWebJobsStorage: storage },
    }),
  );
}, 180_000);

afterAll(async () => {
  for (const h of hosts) await h.stop();
});

async function api(
  host: number,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${hosts[host]?.url}/api/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('force-release on two instances', () => {
  it('needs the admin key; frees the lease while its holder renews; the holder is told who and why', async () => {
    const held = await api(0, 'locks/db%2Fprod/acquire', {
      holder: 'deploy 4711',
      requestId: 'r-4711',
      ttlSeconds: 600,
    });
    expect(held.status).toBe(200);
    const leaseId = String(held.json.leaseId);
    let renewing = true;
    const renewals: number[] = [];
    const renewer = (async () => {
      while (renewing) {
        const r = await api(0, 'locks/db%2Fprod/renew', { leaseId });
        renewals.push(r.status);
        if (r.status !== 200) return r;
      }
      return undefined;
    })();
    const waiter = api(1, 'locks/db%2Fprod/acquire', {
      holder: 'deploy 4712',
      requestId: 'r-4712',
      wait: 30,
    });
    const body = { by: 'alice (on call)', reason: 'deploy 4711 hangs' };
    const noKey = await api(1, 'locks/db%2Fprod/force-release', body);
    expect(noKey.status).toBe(401);
    expect(JSON.stringify(noKey.json)).toMatch(/x-coordinator-admin-key.*COORDINATOR_ADMIN_KEY/);
    const wrong = await api(1, 'locks/db%2Fprod/force-release', body, {
      'x-coordinator-admin-key': 'not-the-key-at-all',
    });
    expect(wrong.status).toBe(403);
    const badFence = await api(
      1,
      'locks/db%2Fprod/force-release',
      { ...body, fence: 0 },
      { 'x-coordinator-admin-key': adminKey },
    );
    expect(badFence.status).toBe(400);
    expect(JSON.stringify(badFence.json)).toMatch(/fence.*must be a lease fence/);
    const forced = await api(1, 'locks/db%2Fprod/force-release', body, {
      'x-coordinator-admin-key': adminKey,
    });
    expect(forced.status).toBe(200);
    expect(forced.json).toMatchObject({ released: [{ holder: 'deploy 4711', fence: 1 }] });
    const stopped = await renewer;
    renewing = false;
    expect(renewals.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(stopped?.status).toBe(409);
    expect(JSON.stringify(stopped?.json)).toMatch(
      /force-released by alice \(on call\).*deploy 4711 hangs/,
    );
    const next = await waiter;
    expect(next.status).toBe(200);
    expect(next.json.fence).toBe(2);
    const history = await api(0, 'locks/db%2Fprod?history=true');
    expect(history.json.overlaps).toEqual([]);
    expect(history.json.history).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ fence: 1, state: 'forced', forcedBy: 'alice (on call)' }),
      ]),
    );
    const page = await (await fetch(`${hosts[1]?.url}/api/ui`)).text();
    expect(page).toMatch(/force-released/);
  });
});

describe('a pool under contention from two instances', () => {
  it('eight shell clients take any of two locks: each gets one, never two on one lock at once', async () => {
    const script = resolve('infra/octopus/coordinator-lock.sh');
    const run = (host: number, i: number) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
        execFile(
          'bash',
          [
            '-c',
            `set -e; out=$(bash "$0" acquire-any build-agent-1 build-agent-2 --holder c${i} --ttl 120 --wait 90); IFS=$'\\t' read -r lease lock <<<"$out"; sleep 0.3; bash "$0" release "$lock" "$lease"; echo "$lock"`,
            script,
          ],
          { env: { ...process.env, COORDINATOR_URL: hosts[host]?.url ?? '' } },
          (err, stdout, stderr) =>
            done({ code: err ? Number(err.code ?? 1) : 0, stdout: stdout.trim(), stderr }),
        );
      });
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => run(i % 2, i)));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const got = results.map((r) => r.stdout);
    expect(new Set(got)).toEqual(new Set(['build-agent-1', 'build-agent-2']));
    for (const lock of ['build-agent-1', 'build-agent-2']) {
      const view = await api(0, `locks/${lock}?history=true`);
      expect(view.json.overlaps).toEqual([]);
      expect((view.json.history as unknown[]).length).toBe(got.filter((g) => g === lock).length);
    }
  });
});
