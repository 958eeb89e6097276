// Force-release with a crash, through dev-host processes on one Azurite: the instance the holder talks
// to dies (SIGKILL) and an admin frees the lease from the other one; a waiter's instance dies while the
// lock is force-released; the instance handling the force-release dies mid-call and the admin asks
// again. In each: never two holders at once (the lock's grant history), the next
// waiter granted exactly once (a repeated acquire with its requestId gets the same lease), and the
// former holder, when it comes back, gets 409 naming who force-released it and why.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { azuriteConnectionString } from '../../dev/azurite.js';
import {
  startDevHostProcess,
  waitForExit,
  type DevHostProcess,
} from '../helpers/devHostProcess.js';

const adminKey = 'e2e-admin-key-crash-0123456789';
let first: DevHostProcess;
const others: DevHostProcess[] = [];

/** A second instance on the first one's Azurite (a new process each time: the tests kill it). */
async function startSecond(): Promise<DevHostProcess> {
  const h = await startDevHostProcess({
    args: ['--no-timers'],
    env: {
      COORDINATOR_ADMIN_KEY: adminKey,
      AzureWebJobsStorage: azuriteConnectionString('127.0.0.1', first.ports.azurite),
    },
  });
  others.push(h);
  return h;
}

async function kill(h: DevHostProcess): Promise<void> {
  h.child.kill('SIGKILL');
  await waitForExit(h.child);
}

beforeAll(async () => {
  first = await startDevHostProcess({
    args: ['--no-timers'],
    env: { COORDINATOR_ADMIN_KEY: adminKey },
  });
}, 180_000);

afterAll(async () => {
  for (const h of others) await h.stop();
  await first?.stop();
});

type Answer = { status: number; json: Record<string, unknown> };

async function api(
  h: DevHostProcess,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await fetch(`${h.url}/api/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function until<T>(what: string, read: () => Promise<T | undefined>, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}\n${first.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface LockHistory {
  overlaps: unknown[];
  history: { fence: number; holder: string; state: string; forcedBy?: string }[];
}
const historyOf = async (lock: string): Promise<LockHistory> =>
  (await api(first, `locks/${encodeURIComponent(lock)}?history=true`))
    .json as unknown as LockHistory;

const waitersOf = async (lock: string): Promise<number> =>
  ((await api(first, `locks/${encodeURIComponent(lock)}`)).json.waiters as unknown[]).length;

const forceRelease = (h: DevHostProcess, lock: string) =>
  api(
    h,
    `locks/${encodeURIComponent(lock)}/force-release`,
    { by: 'alice (on call)', reason: 'its deploy hangs' },
    { 'x-coordinator-admin-key': adminKey },
  );

const forcedReason = /force-released by alice \(on call\).*its deploy hangs/;

describe('force-release when an instance dies', () => {
  it('the holder’s instance dies: the admin frees the lease on the other, the waiter gets it once, the holder gets 409 when it comes back', async () => {
    const lock = 'db/prod';
    const path = encodeURIComponent(lock);
    const second = await startSecond();
    const held = await api(second, `locks/${path}/acquire`, {
      holder: 'deploy 4711',
      requestId: 'r-4711',
      ttlSeconds: 600,
    });
    expect(held.status).toBe(200);
    const leaseId = String(held.json.leaseId);
    const waiter = api(first, `locks/${path}/acquire`, {
      holder: 'deploy 4712',
      requestId: 'r-4712',
      wait: 60,
    });
    waiter.catch(() => undefined); // awaited below; a failed test must not leave it unhandled
    await until('the waiter to queue', async () =>
      (await waitersOf(lock)) === 1 ? true : undefined,
    );

    // The holder's instance dies; its lease lives on in storage, so the waiter still waits.
    await kill(second);
    const view = await api(first, `locks/${path}`);
    expect(JSON.stringify(view.json.holders)).toContain('deploy 4711');
    const forced = await forceRelease(first, lock);
    expect(forced.status).toBe(200);
    expect(forced.json).toMatchObject({ released: [{ holder: 'deploy 4711', fence: 1 }] });

    // The waiter is granted, once: its repeated acquire gets the same lease.
    const granted = await waiter;
    expect(granted.status).toBe(200);
    expect(granted.json.fence).toBe(2);
    const again = await api(first, `locks/${path}/acquire`, {
      holder: 'deploy 4712',
      requestId: 'r-4712',
    });
    expect(again.json.leaseId).toBe(granted.json.leaseId);

    // The holder comes back through the surviving instance: told who freed its lease and why.
    const renew = await api(first, `locks/${path}/renew`, { leaseId });
    expect(renew.status).toBe(409);
    expect(JSON.stringify(renew.json)).toMatch(forcedReason);
    const release = await api(first, `locks/${path}/release`, { leaseId });
    expect(release.status).toBe(409);

    const history = await historyOf(lock);
    expect(history.overlaps).toEqual([]);
    expect(history.history.map((h) => [h.fence, h.holder, h.state])).toEqual([
      [1, 'deploy 4711', 'forced'],
      [2, 'deploy 4712', 'held'],
    ]);
  });

  it('a waiter’s instance dies as the lock is force-released: that waiter is granted once when it asks again, then the next, never two at once', async () => {
    const lock = 'db/stage';
    const path = encodeURIComponent(lock);
    const second = await startSecond();
    const held = await api(first, `locks/${path}/acquire`, {
      holder: 'deploy 5000',
      requestId: 'r-5000',
      ttlSeconds: 600,
    });
    expect(held.status).toBe(200);
    const holderLease = String(held.json.leaseId);
    // First in line waits through the instance that dies; second in line through the other.
    const lost = api(second, `locks/${path}/acquire`, {
      holder: 'deploy 5001',
      requestId: 'r-5001',
      wait: 60,
    }).catch(() => undefined);
    await until('the first waiter to queue', async () =>
      (await waitersOf(lock)) === 1 ? true : undefined,
    );
    const next = api(first, `locks/${path}/acquire`, {
      holder: 'deploy 5002',
      requestId: 'r-5002',
      wait: 60,
    });
    next.catch(() => undefined); // awaited below; a failed test must not leave it unhandled
    await until('the second waiter to queue', async () =>
      (await waitersOf(lock)) === 2 ? true : undefined,
    );

    // Force-release and the kill at once.
    const [forced] = await Promise.all([forceRelease(first, lock), kill(second)]);
    expect(forced.status).toBe(200);
    expect(forced.json).toMatchObject({ released: [{ holder: 'deploy 5000', fence: 1 }] });
    expect((await lost)?.status ?? 'no answer: its instance died').not.toBe(500);

    // Its client asks again on the surviving instance: granted fence 2 (the same lease if the dead
    // instance had granted it already); the waiter behind it still waits.
    const retried = await api(first, `locks/${path}/acquire`, {
      holder: 'deploy 5001',
      requestId: 'r-5001',
      wait: 30,
    });
    expect(retried.status).toBe(200);
    expect(retried.json.fence).toBe(2);
    const twice = await api(first, `locks/${path}/acquire`, {
      holder: 'deploy 5001',
      requestId: 'r-5001',
    });
    expect(twice.json.leaseId).toBe(retried.json.leaseId);
    const midway = await historyOf(lock);
    expect(midway.history.filter((h) => h.state === 'held').map((h) => h.holder)).toEqual([
      'deploy 5001',
    ]);

    // The former holder is told; the next waiter gets the lock after the release, once.
    const renew = await api(first, `locks/${path}/renew`, { leaseId: holderLease });
    expect(renew.status).toBe(409);
    expect(JSON.stringify(renew.json)).toMatch(forcedReason);
    const released = await api(first, `locks/${path}/release`, {
      leaseId: String(retried.json.leaseId),
    });
    expect(released.status).toBe(200);
    const last = await next;
    expect(last.status).toBe(200);
    expect(last.json.fence).toBe(3);

    const history = await historyOf(lock);
    expect(history.overlaps).toEqual([]);
    expect(history.history.map((h) => [h.fence, h.holder, h.state])).toEqual([
      [1, 'deploy 5000', 'forced'],
      [2, 'deploy 5001', 'released'],
      [3, 'deploy 5002', 'held'],
    ]);
  });

  it('the instance doing the force-release dies mid-call: the admin asks again on the other, the lease is freed once, the waiter granted once', async () => {
    const lock = 'db/test';
    const path = encodeURIComponent(lock);
    const second = await startSecond();
    const held = await api(first, `locks/${path}/acquire`, {
      holder: 'deploy 6000',
      requestId: 'r-6000',
      ttlSeconds: 600,
    });
    expect(held.status).toBe(200);
    const waiter = api(first, `locks/${path}/acquire`, {
      holder: 'deploy 6001',
      requestId: 'r-6001',
      wait: 60,
    });
    waiter.catch(() => undefined); // awaited below; a failed test must not leave it unhandled
    await until('the waiter to queue', async () =>
      (await waitersOf(lock)) === 1 ? true : undefined,
    );

    // The force-release goes to the second instance, which is killed while it handles it (its answer
    // lost either way); the admin asks again on the first.
    const [lostAnswer] = await Promise.all([
      forceRelease(second, lock).catch(() => undefined),
      kill(second),
    ]);
    const retried = await forceRelease(first, lock);
    expect(retried.status).toBe(200);
    const freed = [
      ...((lostAnswer?.json.released as unknown[] | undefined) ?? []),
      ...(retried.json.released as unknown[]),
    ];
    expect(freed).toEqual([expect.objectContaining({ holder: 'deploy 6000', fence: 1 })]);

    const granted = await waiter;
    expect(granted.status).toBe(200);
    expect(granted.json.fence).toBe(2);
    const renew = await api(first, `locks/${path}/renew`, { leaseId: String(held.json.leaseId) });
    expect(renew.status).toBe(409);
    expect(JSON.stringify(renew.json)).toMatch(forcedReason);

    const history = await historyOf(lock);
    expect(history.overlaps).toEqual([]);
    expect(history.history.map((h) => [h.fence, h.holder, h.state])).toEqual([
      [1, 'deploy 6000', 'forced'],
      [2, 'deploy 6001', 'held'],
    ]);
  });
});
