// Overload soak (issue 19 item 6): the compiled app in its own process (bench/webhookApp.ts, the dev
// host's function host, real HTTP) on its own Azurite, driven open-loop by a mixed load: half
// Octopus webhooks, half lock acquires that long-poll (wait 10 s) on a few contended locks, holding
// a grant 100 ms before releasing it. Run at the rate the issue measured as this machine's knee and
// at twice it. Prints webhook p50/p99/max, what the lock calls got (granted, still queued, shed with
// 429), and the app's RSS before, at the peak and after the load has drained.
import { randomUUID } from 'node:crypto';
import { fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { startAzuriteTable } from '../dev/azurite.js';

const rates = (process.env.BENCH_OVERLOAD_RATES ?? '70,140').split(',').map(Number);
const seconds = Number(process.env.BENCH_OVERLOAD_SECONDS ?? 20);
/** 0 sends webhooks only (a calibration run: what the machine gives the webhook alone). */
const withLocks = process.env.BENCH_OVERLOAD_LOCKS !== '0';
const secret = 'bench-overload-secret';
const header = 'X-Coordinator-Secret';
const agent = new Agent({ keepAlive: true, maxSockets: 1024 });

let nextEvent = 5_000_000;
function webhookBody(): string {
  const id = `Events-${nextEvent++}`;
  return JSON.stringify({
    Timestamp: new Date().toISOString(),
    EventType: 'SubscriptionPayload',
    Payload: {
      BatchId: randomUUID(),
      Event: {
        Id: id,
        Category: 'DeploymentSucceeded',
        Occurred: new Date().toISOString(),
        RelatedDocumentIds: ['Deployments-1', 'Projects-1', 'Environments-1', 'ServerTasks-1'],
        SpaceId: 'Spaces-1',
      },
    },
  });
}

function post(
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolvePost) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', ...headers },
        timeout: 60_000,
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolvePost({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', () => resolvePost({ status: 0, body: '' }));
    req.on('timeout', () => req.destroy());
    req.end(body);
  });
}

interface App {
  url: string;
  rss(): Promise<number>;
  stop(): Promise<void>;
}

async function startApp(env: NodeJS.ProcessEnv): Promise<App> {
  const child = fork(fileURLToPath(new URL('./webhookApp.js', import.meta.url)), [], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T>(accept: (m: unknown) => T | undefined): Promise<T> =>
    new Promise((resolveNext) => {
      const onMessage = (m: unknown) => {
        const value = accept(m);
        if (value === undefined) return;
        child.off('message', onMessage);
        resolveNext(value);
      };
      child.on('message', onMessage);
    });
  const url = await next((m) =>
    typeof m === 'object' && m !== null && 'url' in m ? String(m.url) : undefined,
  );
  return {
    url,
    rss: () => {
      const answer = next((m) =>
        typeof m === 'object' && m !== null && 'rss' in m ? Number(m.rss) : undefined,
      );
      child.send('rss');
      return answer;
    },
    stop: () =>
      new Promise<void>((resolveStop) => {
        child.once('exit', () => resolveStop());
        child.send('stop');
      }),
  };
}

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function soak(app: App, rate: number): Promise<void> {
  const webhookMs: number[] = [];
  let webhookFailed = 0;
  const lock = { granted: 0, queued: 0, shed: 0, other: 0 };
  const lockMs: number[] = [];
  const work: Promise<void>[] = [];
  const rssBefore = await app.rss();
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    void app.rss().then((r) => (rssPeak = Math.max(rssPeak, r)));
  }, 1000);
  const total = rate * seconds;
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    if (i % 2 === 0 || !withLocks) {
      work.push(
        (async () => {
          const t = performance.now();
          const res = await post(`${app.url}/api/octopus/events`, webhookBody(), {
            [header]: secret,
          });
          webhookMs.push(performance.now() - t);
          if (res.status < 200 || res.status >= 300) webhookFailed += 1;
        })(),
      );
    } else {
      const name = `soak-${i % 8}`;
      work.push(
        (async () => {
          const t = performance.now();
          const res = await post(
            `${app.url}/api/locks/${name}/acquire`,
            JSON.stringify({ holder: `client ${i}`, wait: 10, ttlSeconds: 30 }),
          );
          lockMs.push(performance.now() - t);
          if (res.status === 200) {
            lock.granted += 1;
            const { leaseId } = JSON.parse(res.body) as { leaseId: string };
            await sleep(100);
            await post(`${app.url}/api/locks/${name}/release`, JSON.stringify({ leaseId }));
          } else if (res.status === 202) lock.queued += 1;
          else if (res.status === 429) lock.shed += 1;
          else lock.other += 1;
        })(),
      );
    }
  }
  const offered = performance.now() - started;
  await Promise.all(work);
  await sleep(10_000); // let timers and lapsed waiters settle
  clearInterval(sampler);
  if (typeof global.gc === 'function') global.gc();
  const rssAfter = await app.rss();
  webhookMs.sort((a, b) => a - b);
  lockMs.sort((a, b) => a - b);
  console.log(
    `| ${rate} ops/s for ${(offered / 1000).toFixed(0)} s | ${webhookMs.length} | ${percentile(webhookMs, 50).toFixed(0)} ms | **${percentile(webhookMs, 99).toFixed(0)} ms** | ${(webhookMs.at(-1) ?? NaN).toFixed(0)} ms | ${webhookFailed} | ${lock.granted} / ${lock.queued} / ${lock.shed} / ${lock.other} | ${percentile(lockMs, 99).toFixed(0)} ms | ${mb(rssBefore)} → ${mb(rssPeak)} → ${mb(rssAfter)} |`,
  );
}

const azurite = await startAzuriteTable();
try {
  const app = await startApp({
    AzureWebJobsStorage: azurite.connectionString,
    WEBHOOK_SECRET: secret,
    WEBHOOK_SECRET_HEADER: header,
  });
  try {
    console.log(
      withLocks
        ? `Overload soak: half webhooks, half lock acquires long-polling (wait 10 s) on 8 locks; ${seconds} s per rate.`
        : `Calibration: webhooks only; ${seconds} s per rate.`,
    );
    console.log(
      '| offered | webhooks | webhook p50 | webhook p99 | webhook max | webhook non-2xx | locks granted / still queued / shed 429 / other | lock p99 | app RSS before → peak → after |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const rate of rates) await soak(app, rate);
  } finally {
    await app.stop();
  }
} finally {
  await azurite.stop();
  agent.destroy();
}
