// Lock throughput, hand-off and costs under growth (issue 16 item 2). Prints: raw single conditional
// Table writes/s; acquire+release pairs/s uncontended and with 16 contenders on one mutex; Table
// requests per acquire, per release and per grant; the hand-off gap (release of one holder to grant
// of the next waiter) with in-process wake-ups and with polling only; rows read per poll with 10, 100
// and 500 waiters; the time until 500 callers arriving together are all queued; the hand-off gap
// with 100 waiters; an acquire+release pair with 50,000 history rows. Each target with met/missed.
// Starts its own in-memory Azurite. Env: BENCH_LOCK_SECONDS (5), BENCH_LOCK_CONTENDERS (16).
import { setMaxListeners } from 'node:events';
import { cpus, loadavg } from 'node:os';
import { startAzuriteTable } from '../dev/azurite.js';
import { LeaseLocks } from '../shared/locks/leaseLock.js';
import { LockReadStats } from '../shared/locks/snapshot.js';
import { LockWakeups } from '../shared/locks/wakeups.js';
import { encodeKey } from '../shared/storage/keys.js';
import { TableStore } from '../shared/storage/tableStore.js';

const seconds = Number(process.env.BENCH_LOCK_SECONDS ?? 5);
const contenders = Number(process.env.BENCH_LOCK_CONTENDERS ?? 16);

const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
};
const fmt = (n: number, digits = 1) => n.toFixed(digits);
const verdict = (met: boolean) => (met ? 'met' : 'MISSED');

type Storage = { kind: 'connectionString'; connectionString: string };

function service(
  store: TableStore,
  extra: Partial<ConstructorParameters<typeof LeaseLocks>[0]> = {},
) {
  return new LeaseLocks({
    table: () => store.table('locks'),
    historyTable: () => store.table('lockhistory'),
    ...extra,
  });
}

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

async function uncontended(store: TableStore, lock: string, locks = service(store)) {
  // Warm up: table creation and connections.
  const warm = await locks.acquire(lock, { holder: 'warm' });
  if (warm.granted) await locks.release(lock, warm.leaseId);
  await locks.historyWritten();
  let acquireTrips = 0;
  let releaseTrips = 0;
  let pairs = 0;
  const times: number[] = [];
  const end = performance.now() + Math.min(seconds, 3) * 1000;
  const started = performance.now();
  while (performance.now() < end) {
    store.roundTrips.reset();
    const t0 = performance.now();
    const grant = await locks.acquire(lock, { holder: `h${pairs}` });
    if (!grant.granted) throw new Error('an uncontended acquire was not granted');
    await locks.release(lock, grant.leaseId);
    times.push(performance.now() - t0);
    await locks.historyWritten();
    // History is written off the answers; count it with the operation that caused it.
    const trips = store.roundTrips.reset();
    acquireTrips += trips - 2; // all but the release's batch and its history row
    releaseTrips += 2;
    pairs += 1;
  }
  const elapsed = (performance.now() - started) / 1000;
  return {
    pairsPerSecond: pairs / elapsed,
    acquireTrips: acquireTrips / pairs,
    releaseTrips: releaseTrips / pairs,
    pairMedianMs: quantile(times, 0.5),
  };
}

async function contended(
  storage: Storage,
  prefix: string,
  lock: string,
  callers: number,
  sharedWakeups: boolean,
  runSeconds = seconds,
) {
  const wakeups = new LockWakeups();
  const store = new TableStore(storage, prefix);
  const services = Array.from({ length: callers }, () =>
    service(store, sharedWakeups ? { wakeups } : {}),
  );
  // Releases go through clients of their own (same tables, same wake-ups), so their requests and
  // their history rows are counted apart from everything else: subtracting the requests made
  // while a release was in flight also took away other callers' polls made meanwhile.
  const releaseStore = new TableStore(storage, prefix);
  const releasers = services.map((s) => service(releaseStore, { wakeups: s.wakeups }));
  const grants: { fence: number; grantedAt: number; releaseAt: number }[] = [];
  store.roundTrips.reset();
  const end = performance.now() + runSeconds * 1000;
  const started = performance.now();
  await Promise.all(
    services.map(async (locks, i) => {
      let round = 0;
      while (performance.now() < end) {
        const result = await locks.acquireWaiting(
          lock,
          { holder: `c${i}-${round}`, requestId: `c${i}-${round++}`, ttlSeconds: 600 },
          { waitMs: 120_000 },
        );
        if (!result.granted) throw new Error('a contender waited 120 s');
        const grantedAt = performance.now();
        const releaseAt = performance.now();
        await releasers[i]?.release(lock, result.leaseId);
        grants.push({ fence: result.fence, grantedAt, releaseAt });
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all([...services, ...releasers].map((s) => s.historyWritten()));
  const totalTrips = store.roundTrips.reset();
  const historyLost = [...services, ...releasers].reduce((n, s) => n + s.historyWrites.failed, 0);
  grants.sort((a, b) => a.fence - b.fence);
  const gaps: number[] = [];
  for (let i = 1; i < grants.length; i++) {
    const previous = grants[i - 1];
    const next = grants[i];
    if (previous && next && next.fence === previous.fence + 1)
      gaps.push(next.grantedAt - previous.releaseAt);
  }
  return {
    grants: grants.length,
    pairsPerSecond: grants.length / elapsed,
    tripsPerGrant: totalTrips / grants.length,
    gapMedian: quantile(gaps, 0.5),
    gapP90: quantile(gaps, 0.9),
    historyLost,
    ...(await overlapsOf(services[0], lock)),
  };
}

/**
 * Overlapping grants in `lock`'s history, and its gaps (grants without an end, fences without a
 * grant record); the first few are printed, since there must be none.
 */
async function overlapsOf(
  locks: LeaseLocks | undefined,
  lock: string,
): Promise<{ overlaps: number; gaps: number }> {
  const report = await locks?.checkOverlaps(lock);
  if (!report) return { overlaps: -1, gaps: -1 };
  if (report.overlaps.length > 0)
    console.log(
      `${lock}: ${report.overlaps.length} overlaps, first: ${JSON.stringify(report.overlaps.slice(0, 3))}`,
    );
  // Ends recorded before their grant are Azurite's clock (ms of arrival + hrtime digits), not gaps.
  const gaps = report.unended.length + report.missingFences;
  if (gaps > 0 || report.endedBeforeGranted.length > 0)
    console.log(
      `${lock}: history gaps: unended ${JSON.stringify(report.unended.slice(0, 5))}, missing fences ${report.missingFences}; ended before granted ${JSON.stringify(report.endedBeforeGranted.slice(0, 5))}`,
    );
  return { overlaps: report.overlaps.length, gaps };
}

/** Rows read by one poll of the head, the middle and the back of a queue of `waiters` behind a holder. */
async function rowsPerPoll(storage: Storage, waiters: number) {
  const store = new TableStore(storage, `benchrows${waiters}`);
  const stats = new LockReadStats();
  // Places kept 10 minutes: joining 500 one by one on a busy machine must not outlast them.
  const locks = service(store, { stats, waiterTtlSeconds: 600 });
  const lock = `bench/rows-${waiters}`;
  const holder = await locks.acquire(lock, { holder: 'holder', ttlSeconds: 600 });
  if (!holder.granted) throw new Error('not granted');
  for (let i = 0; i < waiters; i++)
    await locks.acquire(lock, { holder: `w${i}`, requestId: `w${i}` });
  const polled: number[] = [];
  for (const i of [0, Math.floor(waiters / 2), waiters - 1]) {
    stats.reset();
    const result = await locks.poll(lock, { holder: `w${i}`, requestId: `w${i}` });
    if (result.granted || !result.queued) throw new Error('a waiter lost its place');
    polled.push(stats.reset().rows);
  }
  return { max: Math.max(...polled), polled };
}

/**
 * `callers` long-polls (`wait`, as the step templates send) arriving at once at a held lock, one
 * instance serving them: the time until every one has its place, then the holder releases and the
 * queue is served in order.
 */
async function arrivingTogether(storage: Storage, callers: number) {
  const store = new TableStore(storage, 'benchburst');
  const locks = service(store);
  const lock = 'bench/burst';
  const holder = await locks.acquire(lock, { holder: 'holder', ttlSeconds: 600 });
  if (!holder.granted) throw new Error('not granted');
  store.roundTrips.reset();
  const controller = new AbortController();
  setMaxListeners(callers + 10, controller.signal);
  let queued = 0;
  let allQueued: () => void = () => undefined;
  const everyoneQueued = new Promise<void>((resolve) => (allQueued = resolve));
  const started = performance.now();
  const waits = Array.from({ length: callers }, (_, i) =>
    locks.acquireWaiting(
      lock,
      { holder: `b${i}`, requestId: `b${i}` },
      {
        waitMs: 120_000,
        signal: controller.signal,
        onQueued: () => {
          queued += 1;
          if (queued === callers) allQueued();
        },
      },
    ),
  );
  await Promise.race([everyoneQueued, sleepMs(60_000)]);
  const elapsed = (performance.now() - started) / 1000;
  const trips = store.roundTrips.reset();
  const view = await locks.inspect(lock);
  controller.abort();
  await Promise.allSettled(waits);
  return { elapsed, queued, listed: view?.waiters.length ?? 0, tripsPerCaller: trips / callers };
}

const sleepMs = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** An uncontended acquire+release pair with `rows` history rows of the lock already stored. */
async function withHistory(storage: Storage, rows: number, historyTable: boolean) {
  const store = new TableStore(storage, historyTable ? 'benchhist' : 'benchhistsame');
  const lock = 'bench/history';
  const locks = historyTable
    ? service(store)
    : new LeaseLocks({ table: () => store.table('locks') });
  const before = await uncontended(store, lock, locks);
  const client = await store.table(historyTable ? 'lockhistory' : 'locks');
  const pk = historyTable ? encodeKey(lock) : `%h:${encodeKey(lock)}`;
  for (let done = 0; done < rows; done += 100) {
    await client.submitTransaction(
      Array.from({ length: 50 }, (_, i) => {
        const fence = 1_000_000 + done / 2 + i;
        const key = String(fence).padStart(15, '0');
        return [
          ['create', { partitionKey: pk, rowKey: `g-${key}`, kind: 'grant', fence, holder: 'old' }],
          [
            'create',
            { partitionKey: pk, rowKey: `e-${key}`, kind: 'end', fence, reason: 'released' },
          ],
        ] as const;
      }).flat() as never,
    );
  }
  const after = await uncontended(store, lock, locks);
  return { before, after };
}

const azurite = await startAzuriteTable();
try {
  const storage: Storage = { kind: 'connectionString', connectionString: azurite.connectionString };
  const store = new TableStore(storage, 'bench');
  const [l1, l5, l15] = loadavg();
  console.log(
    `Lock benchmark: in-memory Azurite on this machine (${cpus().length} cores, load ${fmt(l1 ?? 0, 2)} ${fmt(l5 ?? 0, 2)} ${fmt(l15 ?? 0, 2)}), ${seconds} s per timed part, ${contenders} contenders.\n`,
  );
  const raw = await rawConditionalWrites(store);
  const alone = await uncontended(store, 'bench/uncontended');
  // A release answered within its grant's millisecond gets the grant's Timestamp on Azurite: such a
  // grant was once counted as held forever (every later grant an overlap). Counted here, and checked.
  const aloneHistory = await service(store).history('bench/uncontended');
  const sameInstant = aloneHistory.filter((g) => g.endedAt === g.grantedAt).length;
  const aloneChecked = await overlapsOf(service(store), 'bench/uncontended');
  const woken = await contended(storage, 'benchwake', 'bench/contended-wake', contenders, true);
  const polled = await contended(storage, 'benchpoll', 'bench/contended-poll', contenders, false);
  const rows = [];
  for (const n of [10, 100, 500]) rows.push({ n, ...(await rowsPerPoll(storage, n)) });
  const burst = await arrivingTogether(storage, 500);
  const hundred = await contended(storage, 'bench100', 'bench/contended-100', 100, true);
  const hundredPolled = await contended(storage, 'bench100p', 'bench/contended-100p', 100, false);
  const history = await withHistory(storage, 50_000, true);
  const historySame = await withHistory(storage, 50_000, false);

  const lines: [string, string][] = [
    ['raw conditional Table writes (If-Match update, sequential) /s', fmt(raw, 0)],
    ['acquire+release pairs /s, uncontended (sequential)', fmt(alone.pairsPerSecond, 0)],
    ['Table requests per uncontended acquire (history row included)', fmt(alone.acquireTrips, 2)],
    ['Table requests per release (history row included)', fmt(alone.releaseTrips, 2)],
    [`pairs /s, ${contenders} contenders, in-process wake-ups`, fmt(woken.pairsPerSecond, 0)],
    [
      `  target: Table requests per grant ≤ 6 (polls, retries, history)`,
      `${fmt(woken.tripsPerGrant, 2)}  ${verdict(woken.tripsPerGrant <= 6)}`,
    ],
    ['  hand-off gap median / p90, ms', `${fmt(woken.gapMedian)} / ${fmt(woken.gapP90)}`],
    [`pairs /s, ${contenders} contenders, polling only`, fmt(polled.pairsPerSecond, 0)],
    ['  Table requests per grant', fmt(polled.tripsPerGrant, 2)],
    ['  hand-off gap median / p90, ms', `${fmt(polled.gapMedian)} / ${fmt(polled.gapP90)}`],
    ...rows.map(({ n, max, polled: each }): [string, string] => [
      `target: rows read per poll ≤ permits + 2 = 3, ${n} waiters (head/middle/back)`,
      `${each.join('/')}  ${verdict(max <= 3)}`,
    ]),
    [
      'target: 500 callers arriving together all queued within 5 s',
      `${fmt(burst.elapsed, 2)} s (${burst.queued} queued, ${burst.listed} listed; ${fmt(burst.tripsPerCaller, 1)} Table requests each until then)  ${verdict(burst.elapsed <= 5 && burst.queued === 500)}`,
    ],
    [
      'target: hand-off gap median < 100 ms, 100 waiters, in-process wake-ups',
      `${fmt(hundred.gapMedian)} ms (p90 ${fmt(hundred.gapP90)}; ${fmt(hundred.tripsPerGrant, 1)} requests per grant, ${hundred.grants} grants)  ${verdict(hundred.gapMedian < 100)}`,
    ],
    [
      '  the same, polling only (100 callers, each its own wake-ups)',
      `${fmt(hundredPolled.gapMedian)} ms (p90 ${fmt(hundredPolled.gapP90)}; ${fmt(hundredPolled.tripsPerGrant, 1)} requests per grant, ${hundredPolled.grants} grants)`,
    ],
    [
      'acquire+release pair, median ms: no history → 50,000 history rows (history table)',
      `${fmt(history.before.pairMedianMs, 2)} → ${fmt(history.after.pairMedianMs, 2)} (requests ${fmt(history.before.acquireTrips + history.before.releaseTrips, 1)} → ${fmt(history.after.acquireTrips + history.after.releaseTrips, 1)})`,
    ],
    [
      '  the same with history in the locks table (other partitions; Azurite scans whole tables)',
      `${fmt(historySame.before.pairMedianMs, 2)} → ${fmt(historySame.after.pairMedianMs, 2)}`,
    ],
    [
      'overlapping grants found in the history (must be 0)',
      String(
        aloneChecked.overlaps +
          woken.overlaps +
          polled.overlaps +
          hundred.overlaps +
          hundredPolled.overlaps,
      ),
    ],
    [
      '  uncontended grants ended in the microsecond of their grant (Azurite timestamps)',
      `${sameInstant} of ${aloneHistory.length}`,
    ],
    [
      '  history records lost after retries / gaps in the history (must be 0)',
      `${woken.historyLost + polled.historyLost + hundred.historyLost + hundredPolled.historyLost} / ${aloneChecked.gaps + woken.gaps + polled.gaps + hundred.gaps + hundredPolled.gaps}`,
    ],
  ];
  const width = Math.max(...lines.map(([k]) => k.length));
  for (const [k, v] of lines) console.log(`${k.padEnd(width)}  ${v}`);
  const [e1, e5, e15] = loadavg();
  console.log(`\nload at the end: ${fmt(e1 ?? 0, 2)} ${fmt(e5 ?? 0, 2)} ${fmt(e15 ?? 0, 2)}`);
} finally {
  await azurite.stop();
}
