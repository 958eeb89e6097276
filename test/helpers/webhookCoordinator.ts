// A coordinator "instance" for webhook tests: its own runtime, serving the real webhook handler over
// real HTTP, so the simulator's subscriptions POST to it exactly as Octopus would; and the set-up the
// webhook e2e tests share (instances wired to the simulator, deploys, runs, waiting for quiet).
import { createServer, type Server } from 'node:http';
import { HttpRequest, InvocationContext } from '@azure/functions';
import type { CoordinationConfig } from '../../shared/config/coordination/schema.js';
import { QueueClient } from '@azure/storage-queue';
import { defaultQueuesOptions, StorageQueueListener } from '../../dev/queueListener.js';
import { processQueuedEvents } from '../../shared/app/eventsQueue.js';
import { receiveOctopusEvent } from '../../shared/app/webhook.js';
import { eventsQueueName, registerQueueProcessor } from '../../shared/events/queue.js';
import { jsonApi } from '../../shared/http/handler.js';
import type { OctopusSimulator } from '../../dev/octopus-sim/index.js';
import { wireSimulatorToCoordinator } from '../../dev/wireSimulator.js';
import { pollOnce } from '../../shared/app/poll.js';
import { immediateProcessingIdle } from '../../shared/events/queue.js';
import type { OctopusClient } from '../../shared/octopus/client.js';
import type { Deployment } from '../../shared/octopus/deployments.js';
import { collect } from '../../shared/octopus/paging.js';
import { consoleLog, silentLog, type Log } from '../../shared/runtime/log.js';
import { createRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { RunStore } from '../../shared/runs/store.js';
import { isTerminalRunStatus, type RunState } from '../../shared/runs/types.js';
import type { FakeSendGrid } from './fakeSendGrid.js';
import { azuriteConnectionString, uniqueTablePrefix } from './storage.js';

export interface CoordinatorInstance {
  runtime: Runtime;
  url: string;
  /** Status of every webhook answer this instance gave. */
  answers: number[];
  /** This instance's listener of the events queue (as the host's queue trigger in Azure). */
  listener: StorageQueueListener | undefined;
  stop(): Promise<void>;
}

/** The queue prefix tests use for a table prefix (each suite its own queues in the shared Azurite). */
export function queuePrefixFor(tablePrefix: string): string {
  return `${tablePrefix.toLowerCase().replace(/[^a-z0-9]/g, '')}-`;
}

/**
 * Listen to a runtime's events queue in this process and process each message through the app's
 * queue handler, with the host's semantics (dev/queueListener.ts). Registered for
 * immediateProcessingIdle. Fast polling (maxPollingInterval 100 ms) so tests do not wait on backoff.
 */
export function startEventsQueueListener(
  runtime: Runtime,
  connectionString: string,
  options: Partial<typeof defaultQueuesOptions> = {},
): { listener: StorageQueueListener; stop(): Promise<void> } {
  const name = runtime.queues.name(eventsQueueName);
  const listener = new StorageQueueListener({
    queue: new QueueClient(connectionString, name),
    poisonQueue: new QueueClient(connectionString, `${name}-poison`),
    options: { ...defaultQueuesOptions, maxPollingIntervalMs: 100, ...options },
    invoke: async (d) => {
      await processQueuedEvents(
        runtime,
        d.text,
        { id: d.id, dequeueCount: d.dequeueCount },
        consoleLog, // as the host keeps a queue invocation's log (tests watch warnings)
      );
    },
    log: () => undefined,
  });
  const unregister = registerQueueProcessor(listener);
  listener.start();
  return {
    listener,
    stop: async () => {
      unregister();
      await listener.stop();
    },
  };
}

export async function startCoordinatorInstance(options: {
  env: NodeJS.ProcessEnv;
  config: CoordinationConfig;
  tablePrefix: string;
}): Promise<CoordinatorInstance> {
  const runtime = await createRuntime({
    env: options.env,
    config: options.config,
    tablePrefix: options.tablePrefix,
    queuePrefix: queuePrefixFor(options.tablePrefix),
  });
  const connection = options.env.AzureWebJobsStorage ?? '';
  const queue = /QueueEndpoint=/i.test(connection)
    ? startEventsQueueListener(runtime, connection)
    : undefined;
  const handler = jsonApi((request) => receiveOctopusEvent(runtime, request, silentLog));
  const answers: number[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const request = new HttpRequest({
        method: req.method ?? 'POST',
        url: `http://127.0.0.1${req.url ?? '/'}`,
        headers,
        body: { string: Buffer.concat(chunks).toString('utf8') },
      });
      void Promise.resolve(handler(request, new InvocationContext())).then((result) => {
        const status = result.status ?? 200;
        const body = 'jsonBody' in result ? (result.jsonBody as unknown) : null;
        answers.push(status);
        res
          .writeHead(status, { 'content-type': 'application/json' })
          .end(JSON.stringify(body ?? null));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    runtime,
    url: `http://127.0.0.1:${port}`,
    answers,
    listener: queue?.listener,
    stop: async () => {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      await queue?.stop();
    },
  };
}

export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The webhook secret and its header, as the instances check them and the subscriptions send them. */
export interface WebhookSecret {
  secret: string;
  header: string;
}

/**
 * `count` coordinator instances on one Azurite table prefix (as several Function App instances share
 * one storage account), all on the simulator, each with its own Octopus subscription (so Octopus
 * delivers every event to each). With `mail`, email goes through the real SendGrid SDK to that fake.
 */
export async function startWiredInstances(options: {
  sim: OctopusSimulator;
  config: CoordinationConfig;
  webhook: WebhookSecret;
  count?: number;
  mail?: FakeSendGrid;
  /** More settings, or `undefined` to leave one out. */
  env?: Record<string, string | undefined>;
  tablePrefix?: string;
  /** The subscription's name in Octopus, by instance number (from 1). */
  subscriptionName?: (n: number) => string;
}): Promise<CoordinatorInstance[]> {
  const { sim, webhook } = options;
  const tablePrefix = options.tablePrefix ?? uniqueTablePrefix();
  const instances: CoordinatorInstance[] = [];
  for (let n = 1; n <= (options.count ?? 1); n++) {
    const instance = await startCoordinatorInstance({
      env: {
        AzureWebJobsStorage: azuriteConnectionString(),
        OCTOPUS_URL: sim.url,
        OCTOPUS_API_KEY: sim.apiKey,
        WEBHOOK_SECRET: webhook.secret,
        WEBHOOK_SECRET_HEADER: webhook.header,
        ...(options.mail
          ? {
              SENDGRID_API_KEY: 'SG.fake-key',
              SENDGRID_API_URL: options.mail.url,
              MAIL_FROM: 'coordinator@example.com',
            }
          : {}),
        ...options.env,
      },
      config: options.config,
      tablePrefix,
    });
    instances.push(instance);
    await wireSimulatorToCoordinator({
      simulatorUrl: sim.url,
      apiKey: sim.apiKey,
      coordinatorUrl: instance.url,
      header: webhook.header,
      secret: webhook.secret,
      name: options.subscriptionName?.(n) ?? `Coordinator ${n}`,
    });
  }
  return instances;
}

/** The instance's Octopus client (the instances above always have one). */
export function octopusOf(instance: CoordinatorInstance): OctopusClient {
  const octopus = instance.runtime.octopus;
  if (!octopus) throw new Error('the instance has no Octopus client');
  return octopus;
}

/** Every run the instances' storage holds, with its full state. */
export async function runsOf(instance: CoordinatorInstance): Promise<RunState[]> {
  const store = new RunStore(instance.runtime.tables);
  const out: RunState[] = [];
  for (const summary of await store.list()) {
    const loaded = await store.get(summary.id);
    if (loaded) out.push(loaded.state);
  }
  return out;
}

/** A person deploys `project` `version` to `environment` in Octopus (no coordinator marker). */
export async function deployInOctopus(
  instance: CoordinatorInstance,
  project: string,
  version: string,
  environment: string,
): Promise<Deployment> {
  const octopus = octopusOf(instance);
  const projectId = await octopus.resolve.projectId(project);
  const release = await octopus.releases.byVersion(projectId, version);
  if (!release) throw new Error(`no release ${version} of ${project}`);
  return octopus.deployments.create({
    ReleaseId: release.Id,
    EnvironmentId: await octopus.resolve.environmentId(environment),
    ProjectId: projectId,
  });
}

/**
 * Deliver webhooks to every instance (each event while it happens, as Octopus sends them) and let
 * every instance poll, until Octopus has nothing running, every run has ended and every event raised
 * since `since` was delivered, and that stayed so for three rounds (a finished task's event is raised
 * when the simulator next looks at it).
 */
export async function settle(options: {
  sim: OctopusSimulator;
  instances: readonly CoordinatorInstance[];
  since: Date;
  /** The polls' log (default silent). */
  log?: Log;
  /** Pause between rounds that are not yet quiet. */
  pauseMs?: number;
  timeoutMs?: number;
}): Promise<void> {
  const { sim, instances } = options;
  const [first] = instances;
  if (!first) throw new Error('no instance');
  let quietRounds = 0;
  await waitFor(
    async () => {
      await sim.flushWebhooks();
      for (const i of instances) await immediateProcessingIdle(i.runtime);
      for (const i of instances) await pollOnce(i.runtime, options.log ?? silentLog);
      const active = (sim.state().activeTasks as unknown[]).length;
      const all = await runsOf(first);
      const delivered = new Set(sim.webhookDeliveries().map((d) => d.eventId));
      const raised = await collect(octopusOf(first).events.list({ from: options.since }));
      const quiet =
        active === 0 &&
        all.every((r) => isTerminalRunStatus(r.status)) &&
        raised.every((e) => delivered.has(e.Id));
      quietRounds = quiet ? quietRounds + 1 : 0;
      if (quietRounds < 3) await new Promise((r) => setTimeout(r, options.pauseMs ?? 200));
      return quietRounds >= 3;
    },
    'Octopus, the runs and the webhooks to go quiet',
    options.timeoutMs ?? 90_000,
  );
}
