// Issue 15 item 5: the webhook does no work after its answer. It stores the event and hands it to the
// events queue; the queue trigger processes it with the host's retries and poison queue; the status
// poll is the safety net. Real parts: Azurite's table and queue services, the dev host's listener
// with the extension's semantics (dev/queueListener.ts), the compiled app on the dev host.
import { request as httpRequest } from 'node:http';
import { setTimeout as pause } from 'node:timers/promises';
import { resolve } from 'node:path';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { QueueClient } from '@azure/storage-queue';
import { afterEach, describe, expect, it } from 'vitest';
import { startAzuriteTable } from '../../dev/azurite.js';
import { FunctionHost } from '../../dev/functionHost.js';
import { recordPoisonedEvents } from '../../shared/app/eventsQueue.js';
import { receiveOctopusEvent } from '../../shared/app/webhook.js';
import { coordinationConfigSchema } from '../../shared/config/coordination/schema.js';
import type { EventConsumer } from '../../shared/events/consumers.js';
import { processPendingEvents } from '../../shared/events/process.js';
import {
  eventsMaxDequeueCount,
  eventsPoisonQueueName,
  eventsQueueName,
  immediateProcessingIdle,
  processEventsMessage,
  queuedEvent,
  registerQueueProcessor,
} from '../../shared/events/queue.js';
import {
  eventRowKey,
  readEventStates,
  readStoredEvent,
  storeEventOnce,
} from '../../shared/events/store.js';
import { checkHealth } from '../../shared/health/health.js';
import { jsonApi } from '../../shared/http/handler.js';
import { silentLog } from '../../shared/runtime/log.js';
import { createRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { listDeadLetters } from '../../shared/storage/deadLetters.js';
import { defaultQueuesOptions, StorageQueueListener } from '../../dev/queueListener.js';
import { queuePrefixFor } from '../helpers/webhookCoordinator.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';
import { deploySucceededEvent } from '../helpers/webhookEvents.js';

const secret = 'events-queue-secret';
const header = 'X-Coordinator-Secret';
let nextId = 7_000_000;

async function runtime(connectionString = azuriteConnectionString()): Promise<Runtime> {
  const tablePrefix = uniqueTablePrefix();
  return createRuntime({
    env: {
      AzureWebJobsStorage: connectionString,
      WEBHOOK_SECRET: secret,
      WEBHOOK_SECRET_HEADER: header,
    },
    config: coordinationConfigSchema.parse({}),
    tablePrefix,
    queuePrefix: queuePrefixFor(tablePrefix),
  });
}

const event = (id = `Events-${nextId++}`) => deploySucceededEvent(id);

function payload(e = event()): string {
  return JSON.stringify({
    Timestamp: '2026-12-01T10:00:00Z',
    EventType: 'SubscriptionPayload',
    Payload: { BatchId: 'b-1', Event: e },
  });
}

function post(rt: Runtime, body: string): Promise<HttpResponseInit> {
  const request = new HttpRequest({
    method: 'POST',
    url: 'http://127.0.0.1/api/octopus/events',
    headers: { 'content-type': 'application/json', [header]: secret },
    body: { string: body },
  });
  return Promise.resolve(
    jsonApi((r) => receiveOctopusEvent(rt, r, silentLog))(request, new InvocationContext()),
  );
}

function queueClient(rt: Runtime, base: string, connection = azuriteConnectionString()) {
  return new QueueClient(connection, rt.queues.name(base));
}

async function peekTexts(client: QueueClient): Promise<string[]> {
  if (!(await client.exists())) return [];
  const peeked = await client.peekMessages({ numberOfMessages: 32 });
  return peeked.peekedMessageItems.map((m) =>
    Buffer.from(m.messageText, 'base64').toString('utf8'),
  );
}

/** A consumer that counts what it handles and fails while `failing` is set. */
function countingConsumer(): EventConsumer & { seen: string[]; failing: boolean } {
  const consumer = {
    name: 'counting',
    seen: [] as string[],
    failing: false,
    handle(_rt: Runtime, e: { Id: string }): Promise<void> {
      consumer.seen.push(e.Id);
      return consumer.failing ? Promise.reject(new Error('consumer down')) : Promise.resolve();
    },
  };
  return consumer;
}

function listen(
  rt: Runtime,
  base: string,
  invoke: (text: string, dequeueCount: number, id: string) => Promise<unknown>,
  connection = azuriteConnectionString(),
): StorageQueueListener {
  const name = rt.queues.name(base);
  const listener = new StorageQueueListener({
    queue: new QueueClient(connection, name),
    poisonQueue: name.endsWith('-poison')
      ? undefined
      : new QueueClient(connection, `${name}-poison`),
    options: { ...defaultQueuesOptions, maxPollingIntervalMs: 100 },
    invoke: async (d) => {
      await invoke(d.text, d.dequeueCount, d.id);
    },
    log: () => undefined,
  });
  const unregister = registerQueueProcessor(listener);
  listener.start();
  stops.push(async () => {
    unregister();
    await listener.stop();
  });
  return listener;
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

describe('the events queue', () => {
  it('the webhook answers with the event stored and queued, and does nothing after the answer', async () => {
    const rt = await runtime();
    const e = event();
    const answer = await post(rt, payload(e));
    expect(answer.status).toBe(202);
    const afterAnswer = rt.tables.roundTrips.count;
    // Nothing listens to the queue: whatever happens now would be work after the answer.
    await pause(400);
    expect(rt.tables.roundTrips.count).toBe(afterAnswer);
    const key = eventRowKey(e.Id);
    expect((await readEventStates(rt.tables, [key])).get(key)?.processed).toBe(false);
    // The message carries the event (base64 JSON, as the trigger decodes it).
    const texts = await peekTexts(queueClient(rt, eventsQueueName));
    expect(texts).toHaveLength(1);
    expect(JSON.parse(texts[0] ?? '{}')).toMatchObject({
      v: 1,
      events: [{ k: key, e: { Id: e.Id } }],
    });
    // The queue trigger processes it.
    const consumer = countingConsumer();
    listen(rt, eventsQueueName, (text, dequeueCount, id) =>
      processEventsMessage(rt, text, { id, dequeueCount }, silentLog, [consumer]),
    );
    await immediateProcessingIdle(rt);
    await pause(200);
    expect(consumer.seen).toEqual([e.Id]);
    expect((await readEventStates(rt.tables, [key])).get(key)?.processed).toBe(true);
    expect(await peekTexts(queueClient(rt, eventsQueueName))).toEqual([]);
  });

  it('events answered at the same moment share one message', async () => {
    const rt = await runtime();
    const answers = await Promise.all(Array.from({ length: 20 }, () => post(rt, payload())));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(202));
    const texts = await peekTexts(queueClient(rt, eventsQueueName));
    const events = texts.flatMap((t) => (JSON.parse(t) as { events: unknown[] }).events);
    expect(events).toHaveLength(20);
    expect(texts.length).toBeLessThan(20);
    expect(rt.queues.roundTrips.count).toBeLessThan(20);
  });

  it('a message delivered twice processes its event once', async () => {
    const rt = await runtime();
    const e = event();
    const stored = await storeEventOnce(rt.tables, e, {
      receivedAt: new Date(),
      receivedBy: 'test',
    });
    if (stored.kind !== 'stored') throw new Error('not stored');
    const text = JSON.stringify({ v: 1, events: [queuedEvent(stored.stored)] });
    const consumer = countingConsumer();
    const run = (dequeueCount: number) =>
      processEventsMessage(rt, text, { dequeueCount }, silentLog, [consumer]);
    // The same message twice at once (one pass), then again later (a redelivery), then a duplicate.
    await Promise.all([run(1), run(1)]);
    await run(2);
    await run(1);
    expect(consumer.seen).toEqual([e.Id]);
    // And through the queue: the same message sent twice.
    const queue = queueClient(rt, eventsQueueName);
    await queue.createIfNotExists();
    const again = await storeEventOnce(rt.tables, event(), {
      receivedAt: new Date(),
      receivedBy: 't',
    });
    if (again.kind !== 'stored') throw new Error('not stored');
    const text2 = Buffer.from(
      JSON.stringify({ v: 1, events: [queuedEvent(again.stored)] }),
    ).toString('base64');
    await queue.sendMessage(text2);
    await pause(300);
    await queue.sendMessage(text2);
    listen(rt, eventsQueueName, (t, dequeueCount, id) =>
      processEventsMessage(rt, t, { id, dequeueCount }, silentLog, [consumer]),
    );
    await immediateProcessingIdle(rt);
    expect(consumer.seen.filter((id) => id === again.stored.event.Id)).toHaveLength(1);
  });

  it(`a message that fails ${eventsMaxDequeueCount} times goes to the poison queue and is reported; the poll still processes the event`, async () => {
    const rt = await runtime();
    const consumer = countingConsumer();
    consumer.failing = true;
    const e = event();
    expect((await post(rt, payload(e))).status).toBe(202);
    listen(rt, eventsQueueName, (text, dequeueCount, id) =>
      processEventsMessage(rt, text, { id, dequeueCount }, silentLog, [consumer]),
    );
    const poison = queueClient(rt, eventsPoisonQueueName);
    const until = Date.now() + 30_000;
    while ((await peekTexts(poison)).length === 0) {
      if (Date.now() > until) throw new Error('nothing reached the poison queue');
      await pause(100);
    }
    expect(consumer.seen).toEqual(Array(eventsMaxDequeueCount).fill(e.Id));
    expect(await peekTexts(queueClient(rt, eventsQueueName))).toEqual([]);
    // The poison trigger records it; health reports it.
    listen(rt, eventsPoisonQueueName, (text, dequeueCount, id) =>
      recordPoisonedEvents(rt, text, { id, dequeueCount }, silentLog),
    );
    const source = rt.queues.name(eventsQueueName);
    while ((await listDeadLetters(rt.tables, source)).length === 0) {
      if (Date.now() > until) throw new Error('the poison message was not recorded');
      await pause(100);
    }
    const [dead] = await listDeadLetters(rt.tables, source);
    expect(dead?.reason).toMatch(/gave up after 5 deliveries/);
    expect((await checkHealth(rt, 'test')).events.queuePoisoned).toBe(1);
    const row = await readStoredEvent(rt.tables, dead?.rowKey ?? '');
    expect(row).toMatchObject({ processed: false, attempts: eventsMaxDequeueCount });
    // The event stays pending: once the consumer works again, the status poll processes it.
    consumer.failing = false;
    await processPendingEvents(rt, silentLog, [consumer], () => Promise.resolve(undefined));
    expect((await readStoredEvent(rt.tables, dead?.rowKey ?? ''))?.processed).toBe(true);
    expect(consumer.seen.at(-1)).toBe(e.Id);
  });

  it('a crash between storing and queueing: the status poll processes the stored event', async () => {
    const rt = await runtime();
    const e = event();
    // What the webhook had done when the instance died: the insert, no message.
    await storeEventOnce(rt.tables, e, { receivedAt: new Date(), receivedBy: 'crashed' });
    expect(await peekTexts(queueClient(rt, eventsQueueName))).toEqual([]);
    const consumer = countingConsumer();
    const result = await processPendingEvents(rt, silentLog, [consumer], () =>
      Promise.resolve(undefined),
    );
    expect(result.processed).toBe(1);
    expect(consumer.seen).toEqual([e.Id]);
  });

  it('a queue that is down: the event is stored, the answer is 202, and the poll processes it', async () => {
    const rt = await runtime(
      azuriteConnectionString().replace(
        /QueueEndpoint=http:\/\/[^:]+:\d+/,
        'QueueEndpoint=http://127.0.0.1:9',
      ),
    );
    const e = event();
    const answer = await post(rt, payload(e));
    expect(answer.status).toBe(202);
    expect(answer.jsonBody).toMatchObject({ outcome: 'stored' });
    const consumer = countingConsumer();
    await processPendingEvents(rt, silentLog, [consumer], () => Promise.resolve(undefined));
    expect(consumer.seen).toEqual([e.Id]);
  });
});

describe("the dev host's queue trigger against Azurite", () => {
  it('runs the compiled app: a webhook answered over HTTP is processed by octopusEventsQueue', async () => {
    // Its own Azurite: the app's queue names are the deployed ones (no test prefix).
    const azurite = await startAzuriteTable({ queue: true });
    stops.push(() => azurite.stop());
    const env = {
      AzureWebJobsStorage: azurite.connectionString,
      WEBHOOK_SECRET: secret,
      WEBHOOK_SECRET_HEADER: header,
      MAIL_OUTBOX_DIR: '/tmp/events-queue-outbox',
      STATUS_POLL_SCHEDULE: '0 0 0 1 1 *',
      DAILY_REPORT_SCHEDULE: '0 0 0 1 1 *',
    };
    // The compiled app (dist/) builds its own runtime from process.env, as in Azure.
    const saved = { ...process.env };
    Object.assign(process.env, env);
    stops.push(() => {
      for (const k of Object.keys(env)) delete process.env[k];
      Object.assign(process.env, saved);
      return Promise.resolve();
    });
    const rt = await createRuntime({ env, config: coordinationConfigSchema.parse({}) });
    const host = new FunctionHost({
      appRoot: resolve('.'),
      port: 0,
      env,
      timers: false,
      log: () => undefined,
    });
    await host.load();
    expect(host.queues.map((q) => q.queueName).sort()).toEqual([
      eventsQueueName,
      eventsPoisonQueueName,
    ]);
    await host.start();
    stops.push(() => host.stop());
    const e = event();
    const res = await fetch(`${host.url}/api/octopus/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [header]: secret },
      body: payload(e),
    });
    expect(res.status).toBe(202);
    await immediateProcessingIdle(rt);
    const stored = await readStoredEvent(rt.tables, eventRowKey(e.Id));
    expect(stored?.processed).toBe(true);
    const queued = host.invocations.filter((i) => i.kind === 'queue');
    expect(queued.map((i) => [i.name, i.outcome])).toEqual([['octopusEventsQueue', 'ok']]);

    // HTTP streaming (functions/appSetup.ts): a chunked body reaches the function (the real host
    // hands a chunked body over empty without it), and the route's limit stops an oversized one
    // while reading, as the real host does with streaming.
    expect(host.httpUri).toMatch(/^http:\/\/localhost:\d+\/$/);
    const chunked = (chunks: string[]) =>
      new Promise<{ status: number; body: string }>((resolveReq, reject) => {
        const req = httpRequest(`${host.url}/api/octopus/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [header]: secret },
        });
        req.on('response', (r) => {
          let body = '';
          r.on('data', (c: Buffer) => (body += c.toString()));
          r.on('end', () => resolveReq({ status: r.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        for (const c of chunks) req.write(c);
        req.end();
      });
    const small = payload();
    const accepted = await chunked([small.slice(0, 40), small.slice(40)]);
    expect(accepted.status).toBe(202);
    const big = await chunked(Array.from({ length: 40 }, () => 'x'.repeat(8 * 1024)));
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body)).toMatchObject({ error: { code: 'payload_too_large' } });
  }, 240_000); // Azurite and the whole compiled app start here: minutes on a loaded machine
});
