// Correctness under contention: several OS processes, many concurrent clients on one lock.
import { describe, expect, it } from 'vitest';
import { LeaseLocks } from '../../shared/locks/leaseLock.js';
import { assertBuilt, startLockWorker } from '../helpers/lockWorkers.js';
import { tableStoreForTest, uniqueTablePrefix } from '../helpers/storage.js';

interface GrantRecord {
  holder: string;
  fence: number;
  ticket: number | null;
  grantedAt: number;
  releasedAt: number;
}

/** The most grants held at one instant, from the clients' own intervals [granted, released). */
function maxConcurrent(records: GrantRecord[]): number {
  const events = records.flatMap((r) => [
    { at: r.grantedAt, delta: 1 },
    { at: r.releasedAt, delta: -1 },
  ]);
  events.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let current = 0;
  let max = 0;
  for (const e of events) {
    current += e.delta;
    max = Math.max(max, current);
  }
  return max;
}

/** For each queued grant, how many waiters that queued earlier were served after it. */
function maxOvertaken(records: GrantRecord[]): number {
  const queued = records.filter((r): r is GrantRecord & { ticket: number } => r.ticket !== null);
  let worst = 0;
  for (const b of queued) {
    const overtaken = queued.filter((a) => a.ticket < b.ticket && a.fence > b.fence).length;
    worst = Math.max(worst, overtaken);
  }
  return worst;
}

async function runContention(
  permits: number,
  processes: number,
  clients: number,
  iterations: number,
  holdMs: number,
) {
  assertBuilt();
  const prefix = uniqueTablePrefix();
  const lock = `contended/${permits}`;
  const workers = Array.from({ length: processes }, (_, worker) =>
    startLockWorker(
      { mode: 'contend', lock, permits, clients, iterations, holdMs, worker },
      prefix,
    ),
  );
  const lines = (await Promise.all(workers.map((w) => w.done))).flat();
  const records = lines.filter((l) => l !== 'done').map((l) => JSON.parse(l) as GrantRecord);
  const store = tableStoreForTest(prefix);
  const locks = new LeaseLocks({ table: () => store.table('locks') });
  return { records, storage: await locks.checkOverlaps(lock) };
}

describe('one lock, several processes, many clients', () => {
  it('a mutex: one holder at a time, fences gapless and increasing, waiters served strictly FIFO', async () => {
    const total = 4 * 3 * 4;
    const { records, storage } = await runContention(1, 4, 3, 4, 5);
    expect(records).toHaveLength(total);
    expect(maxConcurrent(records)).toBe(1);
    const byTime = [...records].sort((a, b) => a.grantedAt - b.grantedAt);
    expect(byTime.map((r) => r.fence)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(records.filter((r) => r.ticket !== null).length).toBeGreaterThan(0);
    expect(maxOvertaken(records)).toBe(0);
    expect(storage).toMatchObject({ grants: total, overlaps: [], fenceOrderViolations: [] });
  });

  it('three permits: never more than three holders, unique gapless fences, bounded overtaking', async () => {
    const total = 4 * 4 * 3;
    const { records, storage } = await runContention(3, 4, 4, 3, 20);
    expect(records).toHaveLength(total);
    expect(maxConcurrent(records)).toBeLessThanOrEqual(3);
    expect(records.map((r) => r.fence).sort((a, b) => a - b)).toEqual(
      Array.from({ length: total }, (_, i) => i + 1),
    );
    // With N free permits the first N waiters are all eligible, so one may pass at most N-1 earlier ones.
    expect(maxOvertaken(records)).toBeLessThanOrEqual(2);
    expect(storage).toMatchObject({ grants: total, overlaps: [], fenceOrderViolations: [] });
  });
});
