// Webhook intake and poll cost. (1) Events accepted per second by one instance (the compiled app on
// the dev host, real HTTP) against raw Table inserts of the same rows in the same Azurite, same
// concurrency; then p50/p99 latency at half the accepted rate (open loop). (2) Octopus calls per
// status poll for project sets of 1, 10 and 200 projects, cold (first poll) and warm.
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TableClient } from '@azure/data-tables';
import { startAzuriteTable } from '../dev/azurite.js';
import { FunctionHost } from '../dev/functionHost.js';
import { startOctopusSimulator } from '../dev/octopus-sim/index.js';
import { coordinationConfigSchema } from '../shared/config/coordination/schema.js';
import { settingDefaults } from '../shared/config/settings.js';
import { immediateProcessingIdle } from '../shared/events/process.js';
import { silentLog } from '../shared/runtime/log.js';
import { createRuntime, setRuntime } from '../shared/runtime/runtime.js';
import { pollOnce } from '../shared/status/poll.js';

const appRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const events = Number(process.env.BENCH_WEBHOOK_EVENTS ?? 3000);
const concurrency = Number(process.env.BENCH_WEBHOOK_CONCURRENCY ?? 16);
const latencySeconds = Number(process.env.BENCH_WEBHOOK_LATENCY_SECONDS ?? 8);
const secret = 'bench-webhook-secret';
const header = 'X-Coordinator-Secret';

let nextEvent = 1_000_000;
function payload(): string {
  const id = `Events-${nextEvent++}`;
  return JSON.stringify({
    Timestamp: new Date().toISOString(),
    EventType: 'SubscriptionPayload',
    Payload: {
      ServerUri: 'https://octopus.example.com',
      BatchId: randomUUID(),
      TotalEventsInBatch: 1,
      EventNumberInBatch: 1,
      Subscription: { Id: 'Subscriptions-1', Name: 'Coordinator', SpaceId: 'Spaces-1' },
      Event: {
        Id: id,
        Category: 'DeploymentSucceeded',
        Message: 'Deploy to Production succeeded for Web API release 2.17.0 to Production',
        Occurred: new Date().toISOString(),
        RelatedDocumentIds: [
          'Deployments-390',
          'Projects-81',
          'Releases-305',
          'Environments-1',
          'ServerTasks-12400',
          'Channels-103',
        ],
        UserId: 'users-system',
        Username: 'system',
        SpaceId: 'Spaces-1',
        Links: { Self: `/api/events/${id}` },
      },
    },
  });
}

async function closedLoop(n: number, work: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await work(next++);
    }),
  );
  return n / ((performance.now() - started) / 1000);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function intake(): Promise<void> {
  const azurite = await startAzuriteTable();
  try {
    const env: NodeJS.ProcessEnv = {
      AzureWebJobsStorage: azurite.connectionString,
      WEBHOOK_SECRET: secret,
      WEBHOOK_SECRET_HEADER: header,
      MAIL_OUTBOX_DIR: '/tmp/bench-outbox',
    };
    const runtime = await createRuntime({
      env,
      config: coordinationConfigSchema.parse({}),
      tablePrefix: 'benchwh',
    });
    setRuntime(runtime);
    const host = new FunctionHost({
      appRoot,
      port: 0,
      env: { ...env, ...settingDefaults },
      timers: false,
      log: () => undefined,
    });
    await host.load();
    await host.start();
    // node:http with keep-alive: a lighter client than fetch, as the load generator shares the CPUs.
    const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
    const target = new URL(`${host.url}/api/octopus/events`);
    const post = (): Promise<number> =>
      new Promise((resolvePost, reject) => {
        const t = performance.now();
        const body = payload();
        const headers = {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          [header]: secret,
        };
        const req = request(target, { method: 'POST', agent, headers }, (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 202
              ? resolvePost(performance.now() - t)
              : reject(new Error(`webhook answered ${res.statusCode}`)),
          );
        });
        req.on('error', reject);
        req.end(body);
      });
    const raw = TableClient.fromConnectionString(azurite.connectionString, 'benchraw', {
      allowInsecureConnection: true,
    });
    await raw.createTable();
    const sample = JSON.parse(payload()) as { Payload: { Event: unknown } };
    const rawInsert = async (i: number) => {
      await raw.createEntity({
        partitionKey: 'octopus',
        rowKey: String(i).padStart(15, '0'),
        eventId: `Events-${i}`,
        category: 'DeploymentSucceeded',
        occurred: new Date().toISOString(),
        spaceId: 'Spaces-1',
        receivedAt: new Date().toISOString(),
        receivedBy: 'bench',
        batchId: randomUUID(),
        event: JSON.stringify(sample.Payload.Event),
      });
    };
    // Warm both paths, then alternate so drift in the machine's load hits both alike.
    await closedLoop(300, () => post().then(() => undefined));
    await closedLoop(300, (i) => rawInsert(10_000_000 + i));
    await immediateProcessingIdle(runtime);
    const webhookRates: number[] = [];
    const rawRates: number[] = [];
    for (let round = 0; round < 2; round++) {
      rawRates.push(await closedLoop(events, (i) => rawInsert(round * events + i)));
      webhookRates.push(await closedLoop(events, () => post().then(() => undefined)));
      await immediateProcessingIdle(runtime);
    }
    const best = (xs: number[]) => Math.max(...xs);
    const webhookRate = best(webhookRates);
    const rawRate = best(rawRates);
    console.log(
      `Raw Table inserts (${concurrency} concurrent, ${events} rows x2): ${rawRates.map((r) => r.toFixed(0)).join(', ')} /s`,
    );
    console.log(
      `Webhook events accepted (${concurrency} concurrent, ${events} events x2): ${webhookRates.map((r) => r.toFixed(0)).join(', ')} /s`,
    );
    console.log(`Ratio (best of each): ${(webhookRate / rawRate).toFixed(2)} (target >= 0.70)`);

    // Open loop at half the accepted rate: requests go out on schedule whatever the answers do.
    const rate = webhookRate / 2;
    const total = Math.round(rate * latencySeconds);
    const latencies: number[] = [];
    const started = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      inFlight.push(post().then((ms) => void latencies.push(ms)));
    }
    await Promise.all(inFlight);
    await immediateProcessingIdle(runtime);
    latencies.sort((a, b) => a - b);
    console.log(
      `Latency at ${rate.toFixed(0)} events/s for ${latencySeconds} s (${total} events): p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${(latencies.at(-1) ?? NaN).toFixed(1)} ms`,
    );
    await host.stop();
  } finally {
    await azurite.stop();
  }
}

async function pollCalls(): Promise<void> {
  const azurite = await startAzuriteTable();
  const sim = await startOctopusSimulator({ port: 0 });
  try {
    const names = Array.from(
      { length: 200 },
      (_, i) => `Service ${String(i + 1).padStart(3, '0')}`,
    );
    sim.loadScenario({
      environments: ['Test', 'Production'],
      lifecycles: [
        {
          name: 'Default Lifecycle',
          phases: [{ environments: ['Test'] }, { environments: ['Production'] }],
        },
      ],
      projects: names.map((name) => ({ name, steps: ['Deploy'] })),
      releases: names.map((project) => ({ project, version: '1.0.0' })),
      history: names.map((project) => ({
        project,
        release: '1.0.0',
        environment: 'Test',
        minutesAgo: 30,
      })),
    });
    console.log(
      'Octopus calls per status poll (one space; cold = first poll with name lookups, warm = later polls):',
    );
    for (const size of [1, 10, 200]) {
      const config = coordinationConfigSchema.parse({
        space: 'Default',
        projectSets: { bench: { projects: names.slice(0, size) } },
        watches: [
          {
            name: 'bench-live',
            set: 'bench',
            environments: ['Test', 'Production'],
            recipients: ['bench@example.com'],
          },
        ],
      });
      const env: NodeJS.ProcessEnv = {
        AzureWebJobsStorage: azurite.connectionString,
        OCTOPUS_URL: sim.url,
        OCTOPUS_API_KEY: sim.apiKey,
        WEBHOOK_SECRET: secret,
        MAIL_OUTBOX_DIR: '/tmp/bench-outbox',
      };
      const runtime = await createRuntime({ env, config, tablePrefix: `benchpoll${size}` });
      sim.resetRequests();
      const cold = await pollOnce(runtime, silentLog);
      const simCold = sim.requests().total;
      sim.resetRequests();
      const warm = await pollOnce(runtime, silentLog);
      const simWarm = sim.requests().total;
      const byEndpoint = Object.entries(sim.requests().byEndpoint)
        .map(([k, v]) => `${k} x${v}`)
        .join(', ');
      console.log(
        `  ${String(size).padStart(3)} project(s): cold ${cold.octopusCalls} (simulator saw ${simCold}), warm ${warm.octopusCalls} (simulator saw ${simWarm}: ${byEndpoint}); ${warm.cells} cells`,
      );
    }
  } finally {
    await sim.stop();
    await azurite.stop();
  }
}

await intake();
await pollCalls();
