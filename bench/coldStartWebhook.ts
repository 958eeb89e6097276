// One cold start of the function app as the Functions worker does it, for bench/coldStart.ts: run in
// a fresh Node process with the dev host's stand-in for the worker's core module. Imports every file
// of the package's `main` glob (registration), then invokes the registered `octopusWebhook` through
// the library's invocation model with one new event, as the worker would for the first request.
// Prints `{ importMs, answerMs, status, functions }`, both times from the process's start.
import { randomUUID } from 'node:crypto';

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
  programmingModel?: { getInvocationModel(coreCtx: unknown): Invocation };
}

const files = JSON.parse(process.env.COLD_START_FILES ?? '[]') as string[];
for (const file of files) await import(`file://${file}`);
const importMs = performance.now();
const registry = (globalThis as { __coordinatorFunctionRegistry?: Registry })
  .__coordinatorFunctionRegistry;
const fn = registry?.functions.find((f) => f.metadata.name === 'octopusWebhook');
const model = registry?.programmingModel;
if (!fn || !model) throw new Error('octopusWebhook is not registered (run with the core stub)');
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
const url = 'http://127.0.0.1:7071/api/octopus/events';
const invocation = model.getInvocationModel({
  invocationId: randomUUID(),
  metadata: fn.metadata,
  request: {
    inputData: [
      {
        name: trigger,
        data: {
          http: {
            method: 'POST',
            url,
            headers: {
              'content-type': 'application/json',
              'x-coordinator-secret': process.env.WEBHOOK_SECRET ?? '',
            },
            query: {},
            params: {},
            body: { bytes: Buffer.from(body) },
          },
        },
      },
    ],
    triggerMetadata: {},
  },
  log: () => undefined,
  state: undefined,
});
const { context, inputs } = await invocation.getArguments();
const result = await invocation.invokeFunction(context, inputs, fn.callback);
const response = await invocation.getResponse(context, result);
const answerMs = performance.now();
console.log(
  JSON.stringify({
    importMs,
    answerMs,
    status: response.returnValue?.http?.statusCode ?? '200',
    functions: registry.functions.length,
  }),
);
// After-answer work is not part of the figure; end the process without waiting for it.
process.exit(0);
