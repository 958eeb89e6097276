// Lock failure modes (azure-notes §4): storage down during renewal, clocks skewed between instances,
// and a holder paused past its TTL. Real Table Storage (Azurite), real OS processes, no mocks of our
// modules: storage "down" is a pipeline policy that sends the holder's requests to a closed port.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { TableClient } from '@azure/data-tables';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../dev/azurite.js';
import { LeaseLocks, type AcquireResult, type Grant } from '../../shared/locks/leaseLock.js';
import { LeaseLostError } from '../../shared/locks/errors.js';
import { fencedWrite } from '../../shared/locks/fencedWrite.js';
import { runUnderLease } from '../../shared/locks/jobLock.js';
import { assertBuilt } from '../helpers/lockWorkers.js';
import {
  azuriteConnectionString,
  tableStoreForTest,
  uniqueTablePrefix,
} from '../helpers/storage.js';

const minute = 60_000;

function granted(result: AcquireResult): Grant {
  if (!result.granted) throw new Error(`expected a grant, got ${JSON.stringify(result)}`);
  return result;
}

/** A table client made like production's (2 retries), whose requests can be sent to a closed port. */
async function switchableTable(
  tableName: string,
): Promise<{ client: TableClient; setDown(down: boolean): void }> {
  const closedPort = await freePort();
  let down = false;
  const policy: PipelinePolicy = {
    name: 'storageDown',
    sendRequest(request, next) {
      if (down) {
        const url = new URL(request.url);
        url.port = String(closedPort);
        request.url = url.toString();
      }
      return next(request);
    },
  };
  const client = TableClient.fromConnectionString(azuriteConnectionString(), tableName, {
    allowInsecureConnection: true,
    retryOptions: { maxRetries: 2 },
    additionalPolicies: [{ policy, position: 'perRetry' }],
  });
  await client.createTable();
  return { client, setDown: (value) => (down = value) };
}

interface Worker {
  child: ChildProcess;
  /** The next stdout line. */
  line(): Promise<string>;
  exited: Promise<number | null>;
}

const workers: ChildProcess[] = [];

afterEach(() => {
  for (const child of workers.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

function startWorker(options: Record<string, unknown>, tablePrefix: string): Worker {
  assertBuilt();
  const child = spawn(
    process.execPath,
    [
      resolve('test/fixtures/lockFailureWorker.mjs'),
      JSON.stringify({ connectionString: azuriteConnectionString(), tablePrefix, ...options }),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  workers.push(child);
  let out = '';
  let err = '';
  const waiting: ((line: string) => void)[] = [];
  const lines: string[] = [];
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
    for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n')) {
      const line = out.slice(0, i);
      out = out.slice(i + 1);
      const reader = waiting.shift();
      if (reader) reader(line);
      else lines.push(line);
    }
  });
  const exited = new Promise<number | null>((resolveExit) =>
    child.once('exit', (code) => resolveExit(code)),
  );
  return {
    child,
    exited,
    line: () => {
      const ready = lines.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      return new Promise<string>((resolveLine, reject) => {
        waiting.push(resolveLine);
        void exited.then((code) =>
          reject(new Error(`lock worker exited (${code}) before answering:\n${err}`)),
        );
      });
    },
  };
}

async function tryFromWorker(
  options: Record<string, unknown>,
  tablePrefix: string,
): Promise<{ localNow: number; result: AcquireResult }> {
  const worker = startWorker({ mode: 'try', ...options }, tablePrefix);
  const answer = JSON.parse(await worker.line()) as { localNow: number; result: AcquireResult };
  expect(await worker.exited).toBe(0);
  return answer;
}

describe('storage down during renewal', () => {
  it('the holder stops trusting its lease at its own deadline, and nobody is granted before storage time says it expired', async () => {
    const tableName = `${uniqueTablePrefix()}locks`;
    const storage = await switchableTable(tableName);
    const holderLocks = new LeaseLocks({ table: () => Promise.resolve(storage.client) });
    const healthy = TableClient.fromConnectionString(azuriteConnectionString(), tableName, {
      allowInsecureConnection: true,
    });
    const contender = new LeaseLocks({ table: () => Promise.resolve(healthy) });
    const ttlSeconds = 3;

    const result = await runUnderLease(
      holderLocks,
      'job/a',
      'holder',
      ttlSeconds,
      async (lease) => {
        let abortedAt: number | undefined;
        lease.signal.addEventListener('abort', () => (abortedAt = performance.now()));

        // Storage answering: background renewals keep the lease (past its TTL: see 'short job leases').
        await sleep(1500);
        expect(lease.signal.aborted).toBe(false);
        await lease.assertHeld();
        expect(
          await contender.acquire('job/a', { holder: 'contender', queue: false }),
        ).toMatchObject({ granted: false, heldBy: ['holder'] });

        storage.setDown(true);
        // An irreversible step asked about now is not told "held".
        const heldCheck = lease.assertHeld().then(
          () => 'held',
          (err: unknown) => err,
        );
        let grant: Grant | undefined;
        let refusals = 0;
        while (!grant) {
          const attempt = await contender.acquire('job/a', { holder: 'contender', queue: false });
          if (attempt.granted) grant = attempt;
          else {
            expect(attempt.heldBy).toEqual(['holder']);
            refusals += 1;
            await sleep(100);
          }
        }
        const grantedAt = performance.now();
        expect(await heldCheck).not.toBe('held');
        // The holder had given up before the lease went to anyone else.
        expect(lease.signal.aborted).toBe(true);
        expect(lease.signal.reason).toBeInstanceOf(LeaseLostError);
        expect(abortedAt).toBeLessThan(grantedAt);
        await expect(lease.assertHeld()).rejects.toBeInstanceOf(LeaseLostError);

        // Storage is back: the old holder's renew and release are refused and free nothing.
        storage.setDown(false);
        await expect(holderLocks.renew('job/a', lease.leaseId)).rejects.toMatchObject({
          code: 'not_holder',
          status: 409,
        });
        await expect(holderLocks.release('job/a', lease.leaseId)).rejects.toMatchObject({
          code: 'not_holder',
          status: 409,
        });
        return { grant, refusals, fence: lease.fence };
      },
    );

    expect(result.ran).toBe(true);
    if (!result.ran) return;
    expect(result.value.refusals).toBeGreaterThan(0);
    expect(result.value.grant.fence).toBeGreaterThan(result.value.fence);
    expect((await contender.inspect('job/a'))?.holders.map((h) => h.holder)).toEqual(['contender']);
    // In storage time: the second grant began after the first lease's end (its last renewal + TTL).
    const [first, second] = await contender.history('job/a');
    expect(first?.state).toBe('expired');
    expect(second?.grantedAt).toBeGreaterThanOrEqual(first?.endedAt ?? Infinity);
    expect(await contender.checkOverlaps('job/a')).toMatchObject({
      overlaps: [],
      fenceOrderViolations: [],
    });
  });
});

describe('short job leases', () => {
  it('a 3 s job lease is kept by its renewals; a lease too short ever to be trusted is refused', async () => {
    const store = tableStoreForTest();
    const locks = new LeaseLocks({ table: () => store.table('locks') });
    const kept = await runUnderLease(locks, 'job/short', 'h', 3, async (lease) => {
      await sleep(3500);
      await lease.assertHeld();
      return lease.signal.aborted;
    });
    expect(kept).toEqual({ ran: true, value: false });
    await expect(
      runUnderLease(locks, 'job/short', 'h', 2, () => Promise.resolve()),
    ).rejects.toThrow(/at least 3/);
  });
});

describe('clock skew between instances', () => {
  // The lock module judges expiry only by storage time (row Timestamp against the Date of the
  // contender's own read); its other clock is the holder's monotonic countdown. The contenders below
  // run in processes whose wall clock (Date) is 10 minutes off, so any use of local time would show.
  it('a contender whose clock is 10 minutes ahead cannot take an unexpired lease', async () => {
    const prefix = uniqueTablePrefix();
    const store = tableStoreForTest(prefix);
    const locks = new LeaseLocks({ table: () => store.table('locks') });
    granted(await locks.acquire('skew', { holder: 'H', ttlSeconds: 30 }));

    const ahead = await tryFromWorker(
      { lock: 'skew', holder: 'ahead', clockSkewMs: 10 * minute },
      prefix,
    );
    expect(ahead.localNow - Date.now()).toBeGreaterThan(9 * minute);
    expect(ahead.result).toMatchObject({ granted: false, heldBy: ['H'] });
    expect((await locks.inspect('skew'))?.holders.map((h) => [h.holder, h.fence])).toEqual([
      ['H', 1],
    ]);
  });

  it('a contender whose clock is 10 minutes behind still takes an expired lease', async () => {
    const prefix = uniqueTablePrefix();
    const store = tableStoreForTest(prefix);
    const locks = new LeaseLocks({ table: () => store.table('locks') });
    granted(await locks.acquire('skew', { holder: 'H', ttlSeconds: 1 }));
    // Wait until storage time says the lease has expired (inspect judges by the Date of its read).
    for (let i = 0; i < 100; i++) {
      if ((await locks.inspect('skew'))?.holders[0]?.expired) break;
      await sleep(100);
    }
    expect((await locks.inspect('skew'))?.holders[0]?.expired).toBe(true);

    const behind = await tryFromWorker(
      { lock: 'skew', holder: 'behind', clockSkewMs: -10 * minute },
      prefix,
    );
    expect(Date.now() - behind.localNow).toBeGreaterThan(9 * minute);
    expect(behind.result).toMatchObject({ granted: true, holder: 'behind', fence: 2 });
    expect((await locks.history('skew')).map((g) => [g.fence, g.state])).toEqual([
      [1, 'expired'],
      [2, 'held'],
    ]);
  });
});

describe('a holder paused past its TTL', () => {
  it('after SIGSTOP and SIGCONT its renew and release get 409, its fence is older than the new holder’s, and its fenced write is refused', async () => {
    const prefix = uniqueTablePrefix();
    const store = tableStoreForTest(prefix);
    const locks = new LeaseLocks({ table: () => store.table('locks') });
    const data = await store.table('data');
    const worker = startWorker(
      { mode: 'job', lock: 'job/paused', holder: 'paused', ttlSeconds: 3 },
      prefix,
    );
    const first = JSON.parse(await worker.line()) as { fence: number; write: boolean };
    expect(first).toMatchObject({ fence: 1, write: true });

    worker.child.kill('SIGSTOP');
    const next = granted(
      await locks.acquireWaiting('job/paused', { holder: 'next' }, { waitMs: 15_000 }),
    );
    expect(next.fence).toBeGreaterThan(first.fence);
    expect(
      await fencedWrite(data, { partitionKey: 'p', rowKey: 'r', writtenBy: 'next' }, next.fence),
    ).toMatchObject({ ok: true });

    worker.child.kill('SIGCONT');
    worker.child.stdin?.write('go\n');
    const late = JSON.parse(await worker.line()) as Record<string, unknown>;
    expect(late.assertHeld).toMatchObject({ ok: false, name: 'LeaseLostError' });
    expect(late.signalAborted).toBe(true);
    expect(late.renew).toMatchObject({ ok: false, code: 'not_holder', status: 409 });
    expect(late.renew).toMatchObject({ message: expect.stringMatching(/expired/) as unknown });
    expect(late.release).toMatchObject({ ok: false, code: 'not_holder', status: 409 });
    expect(late.lateWrite).toEqual({ ok: false, reason: 'stale', storedFence: next.fence });
    expect(await worker.exited).toBe(0);

    expect((await data.getEntity<{ writtenBy: string }>('p', 'r')).writtenBy).toBe('next');
    expect((await locks.inspect('job/paused'))?.holders.map((h) => h.holder)).toEqual(['next']);
    expect(await locks.checkOverlaps('job/paused')).toMatchObject({
      overlaps: [],
      fenceOrderViolations: [],
    });
  });
});
