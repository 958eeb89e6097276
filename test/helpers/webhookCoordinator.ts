// A coordinator "instance" for webhook tests: its own runtime, serving the real webhook handler over
// real HTTP, so the simulator's subscriptions POST to it exactly as Octopus would.
import { createServer, type Server } from 'node:http';
import { HttpRequest, InvocationContext } from '@azure/functions';
import type { CoordinationConfig } from '../../shared/config/coordination/schema.js';
import { QueueClient } from '@azure/storage-queue';
import { defaultQueuesOptions, StorageQueueListener } from '../../dev/queueListener.js';
import { processQueuedEvents } from '../../shared/app/eventsQueue.js';
import { receiveOctopusEvent } from '../../shared/app/webhook.js';
import { eventsQueueName, registerQueueProcessor } from '../../shared/events/queue.js';
import { jsonApi } from '../../shared/http/handler.js';
import { consoleLog, silentLog } from '../../shared/runtime/log.js';
import { createRuntime, type Runtime } from '../../shared/runtime/runtime.js';

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
