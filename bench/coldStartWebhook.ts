// One cold start of the function app as the Functions worker does it, for bench/coldStart.ts: run in
// a fresh Node process with the dev host's stand-in for the worker's core module. Imports every file
// of the package's `main` glob (registration), asks the programming model for its capabilities as the
// worker does at start (with HTTP streaming on, app.setup({ enableHttpStream }) in functions/
// appSetup.ts, this starts the library's HTTP proxy), then invokes the registered `octopusWebhook`
// through the library's invocation model with one new event, as the host does for the first request:
// with streaming, the request itself goes to the proxy tagged with the invocation id and the answer
// comes back through it (as dev/functionHost.ts handleStreamed); without, the body rides in the
// invocation. Prints `{ importMs, readyMs, answerMs, answerCpuMs, status, functions, tableRequests, queueRequests }`,
// times from the process's start (readyMs: the worker's start-up done, the proxy listening).
import { randomUUID } from 'node:crypto';
import { subscribe } from 'node:diagnostics_channel';
import { request as httpRequest, type ClientRequest } from 'node:http';

interface Registered {
  metadata: { name: string; bindings: Record<string, { type: string; direction: string }> };
  callback: (...args: unknown[]) => unknown;
}
interface Invocation {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(c: unknown, i: unknown[], cb: Registered['callback']): Promise<unknown>;
  getResponse(
    c: unknown,
    r: unknown,
  ): Promise<{ returnValue?: { http?: { statusCode?: string } } }>;
}
interface Registry {
  functions: Registered[];
  programmingModel?: {
    getInvocationModel(coreCtx: unknown): Invocation;
    getCapabilities?(capabilities: Record<string, string>): Promise<Record<string, string>>;
  };
}

// An invocation that waits for something that never comes (e.g. a streamed request that never
// reaches the proxy) empties the event loop: Node then ends with 13 and, on Node 20, says nothing.
process.on('exit', (code) => {
  if (code === 13)
    console.error(
      'coldStartWebhook: the webhook was never answered (exit 13: the event loop emptied while the invocation was still waiting)',
    );
});

// What the first answer cost in storage requests (the queue's count shows the event was handed to the
// events queue, as in Azure), seen on Node's HTTP client channel: the bundle's runtime and its counters
// are not reachable from here. Azurite's table and queue services are told apart by port.
const storageRequests = { table: 0, queue: 0 };
const storagePorts = {
  table: process.env.COLD_START_TABLE_PORT,
  queue: process.env.COLD_START_QUEUE_PORT,
};
subscribe('http.client.request.start', (message) => {
  const host = String((message as { request: ClientRequest }).request.getHeader('host') ?? '');
  const port = host.slice(host.lastIndexOf(':') + 1);
  if (port === storagePorts.table) storageRequests.table += 1;
  else if (port === storagePorts.queue) storageRequests.queue += 1;
});

const files = JSON.parse(process.env.COLD_START_FILES ?? '[]') as string[];
for (const file of files) await import(`file://${file}`);
const importMs = performance.now();
const registry = (globalThis as { __coordinatorFunctionRegistry?: Registry })
  .__coordinatorFunctionRegistry;
const fn = registry?.functions.find((f) => f.metadata.name === 'octopusWebhook');
const model = registry?.programmingModel;
if (!fn || !model) throw new Error('octopusWebhook is not registered (run with the core stub)');
const callback = fn.callback;
const trigger =
  Object.entries(fn.metadata.bindings).find(([, b]) => b.type === 'httpTrigger')?.[0] ?? 'req';
const id = `Events-${Date.now()}${Math.floor(Math.random() * 1000)}`;
const body = JSON.stringify({
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
      RelatedDocumentIds: ['Deployments-390', 'Projects-81', 'Environments-1', 'ServerTasks-12400'],
      UserId: 'users-system',
      Username: 'system',
      SpaceId: 'Spaces-1',
      Links: { Self: `/api/events/${id}` },
    },
  },
});
const url = new URL('http://127.0.0.1:7071/api/octopus/events');
const headers: Record<string, string> = {
  'content-type': 'application/json',
  'content-length': String(Buffer.byteLength(body)),
  'x-coordinator-secret': process.env.WEBHOOK_SECRET ?? '',
  'x-forwarded-for': '127.0.0.1:50000',
};
// As the worker does at start, before any invocation.
const httpUri = (await model.getCapabilities?.({}))?.HttpUri;
const readyMs = performance.now();
const invocationId = randomUUID();
const http = { method: 'POST', url: url.toString(), headers, query: {}, params: {} };
const invocation = model.getInvocationModel({
  invocationId,
  metadata: fn.metadata,
  request: {
    inputData: [
      {
        name: trigger,
        data: { http: httpUri ? http : { ...http, body: { bytes: Buffer.from(body) } } },
      },
    ],
    triggerMetadata: httpUri
      ? { Headers: { json: JSON.stringify(headers) }, Query: { json: JSON.stringify({}) } }
      : {},
  },
  log: () => undefined,
  state: undefined,
});

/** With streaming: the host's side, forwarding the request to the proxy and reading the answer. */
function forward(proxy: string): Promise<string> {
  return new Promise((resolveStatus, reject) => {
    const req = httpRequest(new URL(url.pathname, proxy), {
      method: 'POST',
      headers: {
        ...headers,
        'x-ms-invocation-id': invocationId,
        'x-forwarded-host': url.host,
        'x-forwarded-proto': 'http',
      },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolveStatus(String(res.statusCode)));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function invoke(): Promise<string> {
  const { context, inputs } = await invocation.getArguments();
  const result = await invocation.invokeFunction(context, inputs, callback);
  const response = await invocation.getResponse(context, result);
  return response.returnValue?.http?.statusCode ?? '200';
}

let status: string;
if (httpUri) {
  const [answered] = await Promise.all([forward(httpUri), invoke()]);
  status = answered;
} else {
  status = await invoke();
}
const answerMs = performance.now();
const cpu = process.cpuUsage();
const answerCpuMs = (cpu.user + cpu.system) / 1000;
console.log(
  JSON.stringify({
    importMs,
    readyMs,
    answerMs,
    answerCpuMs,
    status,
    functions: registry.functions.length,
    tableRequests: storageRequests.table,
    queueRequests: storageRequests.queue,
  }),
);
// After-answer work is not part of the figure; end the process without waiting for it.
process.exit(0);
