// Force-release with a crash, through dev-host processes on one Azurite: the instance the holder talks
// to dies (SIGKILL) and an admin frees the lease from the other one; a waiter's instance dies while the
// lock is force-released; the instance handling the force-release dies mid-call, at its write to the
// locks table: before storage applied it (the admin asks again on the other), or after (its answer
// lost; asking again would free the next holder too, so the admin reads the lock instead).
// In each: never two holders at once (the lock's grant history), the next waiter granted exactly
// once (a repeated acquire with its requestId gets the same lease), and the former holder, when it
// comes back, gets 409 naming who force-released it and why.
//
// For the mid-call cases the second instance reaches Azurite through a pass-through
// (test/helpers/octopusGate.ts), which kills it when its write to the locks table arrives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { azuriteConnectionString } from '../../dev/azurite.js';
import { DevHostPair } from '../helpers/devHostPair.js';
import { waitForExit, type DevHostProcess } from '../helpers/devHostProcess.js';
import { startOctopusGate, type OctopusGate } from '../helpers/octopusGate.js';

const adminKey = 'e2e-admin-key-crash-0123456789';
/** The first instance, with a second one started anew by each test (the tests kill it). */
const pair = new DevHostPair();
let first: DevHostProcess;
const gates: OctopusGate[] = [];
const until = <T>(what: string, read: () => Promise<T | undefined>): Promise<T> =>
  pair.until(what, read);

/**
 * A second instance on the first one's Azurite (a new process each time: the tests kill it), through
 * `gate` when given.
 */
async function startSecond(gate?: OctopusGate): Promise<DevHostProcess> {
  return pair.addHost({
    args: ['--no-timers'],
    env: gate
      ? {
          AzureWebJobsStorage: azuriteConnectionString('127.0.0.1', Number(new URL(gate.url).port)),
        }
      : {},
  });
}

/** A pass-through to the first instance's Azurite (its table service), stopped after the tests. */
async function storageGate(): Promise<OctopusGate> {
  const gate = await startOctopusGate(`http://127.0.0.1:${first.ports.azurite}`);
  gates.push(gate);
  return gate;
}

/** A write to the locks table: one entity, or a batch (which names its table only in its body). */
const writesLocks = (r: { method: string; path: string; body: string }): boolean =>
  r.method !== 'GET' &&
  (/\/locks\(/.test(r.path) || (/\/\$batch$/.test(r.path) && /\/locks\(/.test(r.body)));

async function kill(h: DevHostProcess): Promise<void> {
  h.child.kill('SIGKILL');
  await waitForExit(h.child);
}

beforeAll(async () => {
  await pair.start({
    name: 'locks-crash',
    env: { COORDINATOR_ADMIN_KEY: adminKey },
    first: { args: ['--no-timers'] },
    second: false,
  });
  first = pair.host(0);
}, 180_000);

afterAll(async () => {
  await pair.stop();
  for (const g of gates) await g.stop();
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

interface LockHistory {
  overlaps: unknown[];
  history: { fence: number; holder: string; state: string; forcedBy?: string }[];
}
const historyOf = async (lock: string): Promise<LockHistory> =>
  (await api(first, `locks/${encodeURIComponent(lock)}?history=true`))
    .json as unknown as LockHistory;

const waitersOf = async (lock: string): Promise<number> =>
  ((await api(first, `locks/${encodeURIComponent(lock)}`)).json.waiters as unknown[]).length;

const forceRelease = (h: DevHostProcess, lock: string, fence?: number) =>
  api(
    h,
    `locks/${encodeURIComponent(lock)}/force-release`,
    { by: 'alice (on call)', reason: 'its deploy hangs', ...(fence ? { fence } : {}) },
    { 'x-coordinator-admin-key': adminKey },
  );

const forcedReason = /force-released by alice \(on call\).*its deploy hangs/;

/** The waiter's acquire was granted fence 2, and asking again with its requestId gets the same lease. */
async function grantedOnce(
  lock: string,
  waiter: Promise<Answer>,
  holder: string,
  requestId: string,
): Promise<void> {
  const granted = await waiter;
  expect(granted.status).toBe(200);
  expect(granted.json.fence).toBe(2);
  const again = await api(first, `locks/${encodeURIComponent(lock)}/acquire`, {
    holder,
    requestId,
  });
  expect(again.json.leaseId).toBe(granted.json.leaseId);
}

/**
 * For the cases where the force-release's instance dies: a second instance behind a storage gate;
 * `deploy <n>` holds `lock` and `deploy <n+1>` waits for it, both through the first instance.
 */
async function forceReleaseSetup(lock: string, n: number) {
  const path = encodeURIComponent(lock);
  const gate = await storageGate();
  const second = await startSecond(gate);
  const held = await api(first, `locks/${path}/acquire`, {
    holder: `deploy ${n}`,
    requestId: `r-${n}`,
    ttlSeconds: 600,
  });
  expect(held.status).toBe(200);
  const waiter = api(first, `locks/${path}/acquire`, {
    holder: `deploy ${n + 1}`,
    requestId: `r-${n + 1}`,
    wait: 60,
  });
  waiter.catch(() => undefined); // awaited by the test; a failed test must not leave it unhandled
  await until('the waiter to queue', async () =>
    (await waitersOf(lock)) === 1 ? true : undefined,
  );
  return { gate, second, held, waiter };
}

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
    await grantedOnce(lock, waiter, 'deploy 4712', 'r-4712');

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
    const { gate, second, held, waiter } = await forceReleaseSetup(lock, 6000);

    // The force-release goes to the second instance, which is killed when its write to the locks
    // table reaches the pass-through: it has read the lock and is writing; storage never gets the
    // write. The admin asks again on the first.
    let killed: Promise<void> | undefined;
    gate.decide = async (request) => {
      if (killed || !writesLocks(request)) return 'forward';
      killed = kill(second);
      await killed;
      return 'drop';
    };
    const lostAnswer = await forceRelease(second, lock).catch(() => undefined);
    await killed;
    expect(killed).toBeDefined();
    expect(second.child.signalCode).toBe('SIGKILL');
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

  it('the instance doing the force-release dies after storage applied its write, its answer lost: the lease is freed, recorded as forced by the admin, the waiter granted once', async () => {
    const lock = 'db/qa';
    const path = encodeURIComponent(lock);
    const { gate, second, held, waiter } = await forceReleaseSetup(lock, 7000);

    // Its write to the locks table reaches storage and is applied; the instance is killed before
    // the answer reaches it, so it neither answers the admin nor writes the history's end row nor
    // wakes anyone.
    let applied = 0;
    let killed: Promise<void> | undefined;
    gate.decide = (request) => {
      if (applied !== 0 || !writesLocks(request)) return 'forward';
      applied = -1;
      return 'forward then drop';
    };
    gate.answerLost = async ({ status }) => {
      applied = status;
      killed = kill(second);
      await killed;
    };
    const lostAnswer = await forceRelease(second, lock).catch(() => undefined);
    await killed;
    expect(lostAnswer).toBeUndefined();
    expect(second.child.signalCode).toBe('SIGKILL');
    expect(applied).toBe(202); // a batch: storage's answer to the whole of it

    // The admin asks again on the other instance, naming the fence it saw (1): the waiter's lease,
    // granted since (fence 2), is left alone (without the fence it would be freed too).
    await grantedOnce(lock, waiter, 'deploy 7001', 'r-7001');
    const again = await forceRelease(first, lock, 1);
    expect(again.status).toBe(200);
    expect(again.json.released).toEqual([]);
    expect(again.json.kept).toEqual([{ holder: 'deploy 7001', fence: 2 }]);
    const view = await api(first, `locks/${path}`);
    expect(JSON.stringify(view.json.holders)).not.toContain('deploy 7000');
    expect(JSON.stringify(view.json.holders)).toContain('deploy 7001');
    const renew = await api(first, `locks/${path}/renew`, { leaseId: String(held.json.leaseId) });
    expect(renew.status).toBe(409);
    expect(JSON.stringify(renew.json)).toMatch(forcedReason);

    const history = await historyOf(lock);
    expect(history.overlaps).toEqual([]);
    expect(history.history.map((h) => [h.fence, h.holder, h.state, h.forcedBy])).toEqual([
      [1, 'deploy 7000', 'forced', 'alice (on call)'],
      [2, 'deploy 7001', 'held', undefined],
    ]);
  });
});
