// Step 4 and 5 of a webhook, the Functions way: the webhook stores an event, hands it to a Storage
// queue and answers; a queue-triggered function processes it. Nothing runs after the answer, so
// nothing is cut off when the platform ends the HTTP invocation, and the host's retries and poison
// queue stand behind the processing. The status poll remains the safety net: an event stored but
// never enqueued (a crash between the two, the queue down) is still pending in the events table.
//
// Messages: one per group of webhook answers. Requests answered at the same moment in one instance
// share one message (group commit: while one message is being sent, the events stored meanwhile wait
// and go together in the next), so a burst costs a few queue requests, not one per event, and the
// processing pass sees many events at once. A message holds at most `maxMessageJsonBytes` of JSON
// (64 KiB once base64-encoded, Azure's limit); an event too large to travel whole travels as its row
// key and is read back from the table.
import { setTimeout as pause } from 'node:timers/promises';
import { z } from 'zod';
import type { Log } from '../runtime/log.js';
import type { CoreRuntime, Runtime } from '../runtime/runtime.js';
import { settledWithin } from '../storage/answerWithin.js';
import { maxQueueMessageBytes } from '../storage/queueStore.js';
import type { EventConsumer } from './consumers.js';
import { octopusEventSchema } from './payload.js';
import { processStoredEvents } from './process.js';
import {
  eventInsertInFlight,
  readEventStates,
  readStoredEvent,
  type StoredEvent,
} from './store.js';

/** The queue the webhook hands events to (the queue trigger in functions/octopusEventsQueue.ts). */
export const eventsQueueName = 'octopus-events';
/** Where the host moves a message after `maxDequeueCount` failed attempts. */
export const eventsPoisonQueueName = `${eventsQueueName}-poison`;
/** host.json extensions.queues.maxDequeueCount (kept equal; a unit test compares them). */
export const eventsMaxDequeueCount = 5;

/** JSON per message: base64 makes 4 bytes of 3, and a message may be 64 KiB as sent. */
export const maxMessageJsonBytes = Math.floor((maxQueueMessageBytes * 3) / 4) - 512;

/** One event in a message: its row key, the etag and time of its insert, and the event as stored. */
const queuedEventSchema = z.object({
  k: z.string().min(1).max(1100),
  t: z.string().optional(),
  r: z.string(),
  e: octopusEventSchema.optional(),
});
export type QueuedEvent = z.output<typeof queuedEventSchema>;

export const queuedEventsSchema = z.object({
  v: z.literal(1),
  events: z.array(queuedEventSchema).min(1).max(2000),
});

/** A stored event as it travels in a message (without the event when that would not fit). */
export function queuedEvent(stored: StoredEvent): QueuedEvent {
  return {
    k: stored.rowKey,
    t: stored.etag,
    r: stored.receivedAt.toISOString(),
    e: stored.event,
  };
}

/** How long a message waits for an insert request that is out, so that request's events join it. */
export const joinInsertWaitMs = 50;

/** How long the enqueuer waits for one send before it sends the next message anyway. */
export const sendWaitMs = 2000;

interface Waiting {
  json: string;
  bytes: number;
  resolve(): void;
  reject(err: unknown): void;
}

/** Group commit of events into messages, one message being sent at a time per runtime. */
class Enqueuer {
  private waiting: Waiting[] = [];
  private sending: Promise<void> | undefined;

  constructor(private readonly runtime: CoreRuntime) {}

  add(entry: QueuedEvent): Promise<void> {
    let json = JSON.stringify(entry);
    let bytes = Buffer.byteLength(json);
    if (bytes > maxMessageJsonBytes - 32) {
      // Too large to travel whole: the processor reads it back from the table by its key.
      const { e: _e, ...keyOnly } = entry;
      json = JSON.stringify(keyOnly);
      bytes = Buffer.byteLength(json);
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ json, bytes, resolve, reject });
      // The flush starts with an await, so `sending` is set before it can be cleared.
      this.sending ??= this.flush();
    });
  }

  idle(): Promise<void> {
    return this.sending ?? Promise.resolve();
  }

  private async flush(): Promise<void> {
    // Requests answered in the same turn of the event loop (an insert transaction's events resume
    // one after another, a few promise hops each) join the first message.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.waiting.length > 0) {
        // Events being inserted right now are answered in a moment: wait (briefly) for that
        // request, so they go in this message rather than the next one.
        const inserting = eventInsertInFlight(this.runtime.tables);
        if (inserting) {
          await settledWithin(inserting, joinInsertWaitMs);
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        const batch: Waiting[] = [];
        let size = 20; // {"v":1,"events":[]}
        while (this.waiting.length > 0) {
          const next = this.waiting[0] as Waiting;
          if (batch.length > 0 && size + next.bytes + 1 > maxMessageJsonBytes) break;
          batch.push(next);
          size += next.bytes + 1;
          this.waiting.shift();
        }
        const text = `{"v":1,"events":[${batch.map((b) => b.json).join(',')}]}`;
        // A send the queue never answers must not hold back every later message (each caller
        // has its own deadline, enqueueBudgetMs): past sendWaitMs the next goes anyway.
        await settledWithin(
          this.runtime.queues.send(eventsQueueName, text).then(
            () => {
              for (const b of batch) b.resolve();
            },
            (err: unknown) => {
              for (const b of batch) b.reject(err);
            },
          ),
          sendWaitMs,
        );
      }
    } finally {
      // No await between the empty check and here, so nothing can be added unseen.
      this.sending = undefined;
    }
  }
}

const enqueuers = new WeakMap<CoreRuntime, Enqueuer>();

/** Hand a stored event to the events queue; resolves when the message holding it is in the queue. */
export function enqueueStoredEvent(runtime: CoreRuntime, stored: StoredEvent): Promise<void> {
  let enqueuer = enqueuers.get(runtime);
  if (!enqueuer) {
    enqueuer = new Enqueuer(runtime);
    enqueuers.set(runtime, enqueuer);
  }
  return enqueuer.add(queuedEvent(stored));
}

/** Resolves when this runtime has no message being sent (tests, benchmarks). */
export function enqueueIdle(runtime: CoreRuntime): Promise<void> {
  return enqueuers.get(runtime)?.idle() ?? Promise.resolve();
}

/** What the trigger tells about a delivery (context.triggerMetadata). */
export interface QueueDelivery {
  id?: string | undefined;
  /** 1 on the first delivery; more when the message was delivered before (failed, or lost mid-way). */
  dequeueCount: number;
}

/**
 * How long the first message of a pass waits for the others the host hands over with it, so one
 * pass (one active-runs read, one transaction marking the events) serves them all.
 */
export const queuePassDelayMs = 100;

interface PendingMessage {
  events: QueuedEvent[];
  log: Log;
  resolve(failed: string[]): void;
  reject(err: unknown): void;
}

/** Per-runtime coalescing of the messages being processed at the same time into one pass. */
class QueuePass {
  private pending: PendingMessage[] = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly runtime: Runtime,
    private readonly consumers: readonly EventConsumer[],
  ) {}

  add(events: QueuedEvent[], log: Log): Promise<string[]> {
    return new Promise((resolve, reject) => {
      this.pending.push({ events, log, resolve, reject });
      this.running ??= this.run();
    });
  }

  private async run(): Promise<void> {
    await pause(queuePassDelayMs);
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        try {
          const failed = await this.process(batch);
          for (const m of batch) m.resolve(m.events.map((e) => e.k).filter((k) => failed.has(k)));
        } catch (err) {
          for (const m of batch) m.reject(err);
        }
      }
    } finally {
      this.running = undefined;
    }
  }

  private async process(batch: PendingMessage[]): Promise<Set<string>> {
    // One entry per event (a message delivered twice in one pass, or an event in two messages).
    const byKey = new Map<string, QueuedEvent>();
    for (const m of batch)
      for (const entry of m.events) if (!byKey.get(entry.k)?.e) byKey.set(entry.k, entry);
    // Whether each is processed already (a redelivery, a duplicate message, the poll was first),
    // with its current etag and attempts: one key-range read for events that arrived together.
    const states = await readEventStates(this.runtime.tables, [...byKey.keys()]);
    const events: StoredEvent[] = [];
    await Promise.all(
      [...byKey.values()].map(async (entry) => {
        const state = states.get(entry.k);
        if (!state || state.processed) return; // done, or pruned meanwhile
        if (!entry.e) {
          // Sent by key only (too large for a message): read it back.
          const row = await readStoredEvent(this.runtime.tables, entry.k);
          if (row && !row.processed) events.push(row);
          return;
        }
        events.push({
          rowKey: entry.k,
          etag: state.etag,
          event: entry.e,
          receivedAt: new Date(entry.r),
          attempts: state.attempts,
          processed: false,
        });
      }),
    );
    events.sort((a, b) => (a.rowKey < b.rowKey ? -1 : a.rowKey > b.rowKey ? 1 : 0));
    if (events.length === 0) return new Set();
    // Logged through the first message's invocation: every invocation of the pass waits for it.
    const log = (batch[0] as PendingMessage).log;
    const result = await processStoredEvents(
      this.runtime,
      events,
      log,
      { refreshedSets: new Set(), memo: {} },
      this.consumers,
    );
    return new Set(result.failedKeys);
  }
}

const queuePasses = new WeakMap<Runtime, QueuePass>();

/** A message that is not an events message: the host retries it and then moves it to the poison queue. */
export class NotAnEventsMessageError extends Error {
  override name = 'NotAnEventsMessageError';
}

export function parseEventsMessage(message: unknown): z.output<typeof queuedEventsSchema> {
  let value = message;
  if (typeof message === 'string' || Buffer.isBuffer(message)) {
    try {
      value = JSON.parse(message.toString()) as unknown;
    } catch {
      throw new NotAnEventsMessageError('The queue message is not JSON.');
    }
  }
  const parsed = queuedEventsSchema.safeParse(value);
  if (!parsed.success)
    throw new NotAnEventsMessageError(
      `The queue message is not an events message: ${parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join('.') || 'message'}: ${i.message}`)
        .join('; ')}`,
    );
  return parsed.data;
}

/**
 * Process one delivered message. Resolves when every event in it is processed (or set aside after
 * too many failures); throws when any failed, so the host delivers the message again (and after
 * `eventsMaxDequeueCount` deliveries moves it to the poison queue). Idempotent: each pass reads
 * whether its events are processed already (one key-range read) and skips those, so a redelivered
 * or duplicated message does nothing twice; the consumers also claim their effects in storage, for
 * the race with the status poll processing the same event at the same moment.
 */
export async function processEventsMessage(
  runtime: Runtime,
  message: unknown,
  delivery: QueueDelivery,
  log: Log,
  consumers: readonly EventConsumer[],
): Promise<{ events: number }> {
  const parsed = parseEventsMessage(message);
  let pass = queuePasses.get(runtime);
  if (!pass) {
    pass = new QueuePass(runtime, consumers);
    queuePasses.set(runtime, pass);
  }
  const failed = await pass.add(parsed.events, log);
  if (failed.length > 0)
    throw new Error(
      `${failed.length} of ${parsed.events.length} event(s) in queue message ${delivery.id ?? '?'} failed (delivery ${delivery.dequeueCount} of ${eventsMaxDequeueCount}); they stay pending: the queue retries the message, and the status poll retries them after that. Event rows: ${failed.slice(0, 5).join(', ')}; see lastError on each row.`,
    );
  return { events: parsed.events.length };
}

/** Something that processes the events queue in this process (the dev host's listener, a test's). */
export interface QueueProcessorProbe {
  /** Resolves when the queue was found empty with nothing in flight. */
  idle(): Promise<void>;
}

const probes = new Set<QueueProcessorProbe>();

/** Register a listener of the events queue in this process; returns the unregister function. */
export function registerQueueProcessor(probe: QueueProcessorProbe): () => void {
  probes.add(probe);
  return () => probes.delete(probe);
}

/**
 * Resolves when what this runtime queued has been processed by the queue listeners of this process
 * (tests and benchmarks; in Azure the host's listener is not visible from here).
 */
export async function immediateProcessingIdle(runtime: Runtime): Promise<void> {
  await enqueueIdle(runtime);
  await Promise.all([...probes].map((p) => p.idle()));
}
