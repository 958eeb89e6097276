// Lock throughput and hand-off. Prints: raw single conditional Table writes/s; acquire+release pairs/s
// uncontended and with 16 contenders on one mutex; Table round trips per acquire and per release; the
// hand-off gap (release of one holder to grant of the next waiter) with in-process wake-ups and with
// polling only (as between processes or instances). Starts its own in-memory Azurite.
import { startAzuriteTable } from '../dev/azurite.js';
import { LeaseLocks } from '../shared/locks/leaseLock.js';
import { LockWakeups } from '../shared/locks/wakeups.js';
import { TableStore } from '../shared/storage/tableStore.js';

const seconds = Number(process.env.BENCH_LOCK_SECONDS ?? 5);
const contenders = Number(process.env.BENCH_LOCK_CONTENDERS ?? 16);

const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
};
const fmt = (n: number, digits = 1) => n.toFixed(digits);

async function rawConditionalWrites(store: TableStore): Promise<number> {
  const client = await store.table('benchraw');
  let etag =
    (await client.upsertEntity({ partitionKey: 'p', rowKey: 'r', n: 0 }, 'Replace')).etag ?? '*';
  let n = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    etag =
      (await client.updateEntity({ partitionKey: 'p', rowKey: 'r', n }, 'Merge', { etag })).etag ??
      '*';
    n += 1;
  }
  return n / seconds;
}

async function uncontended(store: TableStore) {
  const locks = new LeaseLocks({ table: () => store.table('locks') });
  // Warm up: table creation and connections.
  const warm = await locks.acquire('bench/uncontended', { holder: 'warm' });
  if (warm.granted) await locks.release('bench/uncontended', warm.leaseId);
  let acquireTrips = 0;
  let releaseTrips = 0;
  let pairs = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  while (performance.now() < end) {
    store.roundTrips.reset();
    const grant = await locks.acquire('bench/uncontended', { holder: `h${pairs}` });
    acquireTrips += store.roundTrips.reset();
    if (!grant.granted) throw new Error('an uncontended acquire was not granted');
    await locks.release('bench/uncontended', grant.leaseId);
    releaseTrips += store.roundTrips.reset();
    pairs += 1;
  }
  const elapsed = (performance.now() - started) / 1000;
  return {
    pairsPerSecond: pairs / elapsed,
    acquireTrips: acquireTrips / pairs,
    releaseTrips: releaseTrips / pairs,
  };
}

async function contended(store: TableStore, lock: string, sharedWakeups: boolean) {
  const wakeups = new LockWakeups();
  const services = Array.from(
    { length: contenders },
    () =>
      new LeaseLocks({ table: () => store.table('locks'), ...(sharedWakeups ? { wakeups } : {}) }),
  );
  const grants: { fence: number; grantedAt: number; releaseAt: number }[] = [];
  store.roundTrips.reset();
  let releaseTrips = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    services.map(async (locks, i) => {
      let round = 0;
      while (performance.now() < end) {
        const result = await locks.acquireWaiting(
          lock,
          { holder: `c${i}-${round++}` },
          { waitMs: 30_000 },
        );
        if (!result.granted) throw new Error('a contender waited 30 s');
        const grantedAt = performance.now();
        const releaseAt = performance.now();
        const before = store.roundTrips.count;
        await locks.release(lock, result.leaseId);
        releaseTrips += store.roundTrips.count - before;
        grants.push({ fence: result.fence, grantedAt, releaseAt });
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const totalTrips = store.roundTrips.reset();
  grants.sort((a, b) => a.fence - b.fence);
  const gaps: number[] = [];
  for (let i = 1; i < grants.length; i++) {
    const previous = grants[i - 1];
    const next = grants[i];
    if (previous && next && next.fence === previous.fence + 1)
      gaps.push(next.grantedAt - previous.releaseAt);
  }
  return {
    pairsPerSecond: grants.length / elapsed,
    tripsPerGrant: (totalTrips - releaseTrips) / grants.length,
    gapMedian: quantile(gaps, 0.5),
    gapP90: quantile(gaps, 0.9),
    overlaps: (await services[0]?.checkOverlaps(lock))?.overlaps.length ?? -1,
  };
}

const azurite = await startAzuriteTable();
try {
  // One table per part: Azurite evaluates a query against every row of a table, so history left by one
  // part would slow the next (Azure indexes by partition; there it would not matter).
  const storage = { kind: 'connectionString' as const, connectionString: azurite.connectionString };
  const store = new TableStore(storage, 'bench');
  console.log(
    `Lock benchmark: in-memory Azurite on this machine, ${seconds} s per part, ${contenders} contenders.\n`,
  );
  const raw = await rawConditionalWrites(store);
  const alone = await uncontended(store);
  const woken = await contended(new TableStore(storage, 'benchwake'), 'bench/contended-wake', true);
  const polled = await contended(
    new TableStore(storage, 'benchpoll'),
    'bench/contended-poll',
    false,
  );
  const rows: [string, string][] = [
    ['raw conditional Table writes (If-Match update, sequential) /s', fmt(raw, 0)],
    ['acquire+release pairs /s, uncontended (sequential)', fmt(alone.pairsPerSecond, 0)],
    ['Table round trips per uncontended acquire (target ≤ 2)', fmt(alone.acquireTrips, 2)],
    ['Table round trips per release (target ≤ 2)', fmt(alone.releaseTrips, 2)],
    [
      `acquire+release pairs /s, ${contenders} contenders, in-process wake-ups`,
      fmt(woken.pairsPerSecond, 0),
    ],
    ['  Table round trips per grant (polls and retries included)', fmt(woken.tripsPerGrant, 1)],
    [
      '  hand-off gap median / p90, ms (target median < 100)',
      `${fmt(woken.gapMedian)} / ${fmt(woken.gapP90)}`,
    ],
    [
      `acquire+release pairs /s, ${contenders} contenders, polling only`,
      fmt(polled.pairsPerSecond, 0),
    ],
    ['  Table round trips per grant (polls and retries included)', fmt(polled.tripsPerGrant, 1)],
    [
      '  hand-off gap median / p90, ms (target median < 100)',
      `${fmt(polled.gapMedian)} / ${fmt(polled.gapP90)}`,
    ],
    [
      'overlapping grants found in the history (must be 0)',
      String(woken.overlaps + polled.overlaps),
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
} finally {
  await azurite.stop();
}
