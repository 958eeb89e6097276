// Lock history writes (off the answers): retried while storage fails transiently, counted when lost.
import { RestError, type PipelinePolicy } from '@azure/core-rest-pipeline';
import { TableClient } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import type { AcquireResult, Grant } from '../../shared/locks/leaseLock.js';
import { locksForTest } from '../helpers/locks.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';

function granted(result: AcquireResult): Grant {
  if (!result.granted) throw new Error(`expected a grant, got ${JSON.stringify(result)}`);
  return result;
}

/** A history table whose next `failures` requests fail with `status` before reaching storage. */
function failingHistoryTable(status: number) {
  let failures = 0;
  const policy: PipelinePolicy = {
    name: 'failHistoryWrites',
    async sendRequest(request, next) {
      if (failures > 0 && request.method !== 'GET') {
        failures -= 1;
        throw new RestError(`simulated ${status}`, { statusCode: status });
      }
      return next(request);
    },
  };
  const client = TableClient.fromConnectionString(
    azuriteConnectionString(),
    `${uniqueTablePrefix()}lockhistory`,
    {
      allowInsecureConnection: true,
      retryOptions: { maxRetries: 0 },
      additionalPolicies: [{ policy, position: 'perCall' }],
    },
  );
  const ready = client.createTable().then(() => client);
  return { client: () => ready, failNext: (n: number) => (failures = n) };
}

describe('lock history writes', () => {
  it('are retried while storage fails transiently, so the history is complete', async () => {
    const history = failingHistoryTable(503);
    const locks = locksForTest({ historyTable: history.client });
    await history.client();
    history.failNext(2);
    const a = granted(await locks.acquire('h/retry', { holder: 'A' }));
    await locks.historyWritten();
    history.failNext(2);
    await locks.release('h/retry', a.leaseId);
    await locks.historyWritten();
    expect(locks.historyWrites).toEqual({ written: 2, retried: 4, failed: 0 });
    expect((await locks.history('h/retry')).map((g) => [g.fence, g.holder, g.state])).toEqual([
      [1, 'A', 'released'],
    ]);
  });

  it('that are finally lost are counted, and the check reports what is missing, not an overlap', async () => {
    const history = failingHistoryTable(500);
    const locks = locksForTest({ historyTable: history.client });
    await history.client();
    const a = granted(await locks.acquire('h/lost', { holder: 'A' }));
    await locks.release('h/lost', a.leaseId);
    await locks.historyWritten();
    // Fence 2's grant record is lost for good (four tries); its release's tombstone still ends it.
    history.failNext(4);
    const b = granted(await locks.acquire('h/lost', { holder: 'B' }));
    await locks.historyWritten();
    await locks.release('h/lost', b.leaseId);
    const c = granted(await locks.acquire('h/lost', { holder: 'C' }));
    await locks.release('h/lost', c.leaseId);
    await locks.historyWritten();
    expect(locks.historyWrites).toMatchObject({ retried: 3, failed: 1 });
    expect(await locks.checkOverlaps('h/lost')).toMatchObject({
      grants: 2,
      overlaps: [],
      unended: [],
      missingFences: 1,
    });
  });

  it('a 4xx other than 408/429 is not retried', async () => {
    const history = failingHistoryTable(403);
    const locks = locksForTest({ historyTable: history.client });
    await history.client();
    history.failNext(1);
    const a = granted(await locks.acquire('h/denied', { holder: 'A' }));
    await locks.historyWritten();
    await locks.release('h/denied', a.leaseId);
    await locks.historyWritten();
    expect(locks.historyWrites).toEqual({ written: 1, retried: 0, failed: 1 });
  });

  it('an end row that was lost is written from its tombstone before the prune deletes the tombstone', async () => {
    const history = failingHistoryTable(403);
    const locks = locksForTest({ historyTable: history.client });
    await history.client();
    const a = granted(await locks.acquire('h/pruned', { holder: 'A' }));
    await locks.historyWritten();
    history.failNext(1);
    await locks.release('h/pruned', a.leaseId);
    await locks.historyWritten();
    expect(locks.historyWrites.failed).toBe(1);
    // Tombstones go (all of them: before a minute from now), history is kept (from a day ago).
    const now = Date.now();
    await locks.pruneHistory(new Date(now - 86_400_000), new Date(now + 60_000));
    const b = granted(await locks.acquire('h/pruned', { holder: 'B' }));
    await locks.release('h/pruned', b.leaseId);
    expect((await locks.history('h/pruned')).map((g) => [g.fence, g.holder, g.state])).toEqual([
      [1, 'A', 'released'],
      [2, 'B', 'released'],
    ]);
    expect(await locks.checkOverlaps('h/pruned')).toMatchObject({ overlaps: [], unended: [] });
    // Past the retention, the grant goes with its tombstone (it has no end row to be pruned by).
    const c = granted(await locks.acquire('h/pruned', { holder: 'C' }));
    await locks.historyWritten();
    history.failNext(1);
    await locks.release('h/pruned', c.leaseId);
    await locks.historyWritten();
    await locks.pruneHistory(new Date(now + 60_000));
    expect(await locks.history('h/pruned')).toEqual([]);
  });
});
