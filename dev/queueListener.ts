// The dev host's queue trigger listener: what the Functions host's storage queue extension does
// (Microsoft.Azure.WebJobs.Extensions.Storage.Queues: QueueListener, QueueProcessor, QueuesOptions),
// against Azurite's queue service, and no kinder:
// - polls with GetMessages for `batchSize` messages (default 16) under a 10-minute visibility timeout,
//   renewed at half-time while the function runs; fetches again as soon as the messages in flight
//   drop to `newBatchThreshold` (default batchSize / 2);
// - an empty poll (or a storage error) backs off: randomized exponential from 100 ms up to
//   `maxPollingInterval` (default 1 minute); finding messages resets it;
// - messages are base64-decoded (`messageEncoding` "base64", the default); one that is not base64
//   fails like a function failure, without the function being called;
// - a success deletes the message; a failure makes it visible again after `visibilityTimeout`
//   (default 0: at once), and the failure on delivery `maxDequeueCount` (default 5) copies it to
//   `<queue>-poison` and deletes it; a message delivered more often (a crash mid-run) goes there
//   without running;
// - a queue whose name ends in "-poison" has no poison queue: a failed message stays invisible until
//   its visibility timeout ends, and comes back.
import { randomUUID } from 'node:crypto';
import type { QueueClient, DequeuedMessageItem } from '@azure/storage-queue';

export interface QueuesOptions {
  batchSize: number;
  newBatchThreshold: number;
  maxDequeueCount: number;
  /** Delay before a failed message is visible again. */
  visibilityTimeoutMs: number;
  maxPollingIntervalMs: number;
  messageEncoding: 'base64' | 'none';
}

/** The extension's defaults (QueuesOptions). */
export const defaultQueuesOptions: QueuesOptions = {
  batchSize: 16,
  newBatchThreshold: 8,
  maxDequeueCount: 5,
  visibilityTimeoutMs: 0,
  maxPollingIntervalMs: 60_000,
  messageEncoding: 'base64',
};

/** The host's minimum polling interval (QueuePollingIntervals.Minimum). */
export const minimumPollingIntervalMs = 100;
/** How long a message being processed stays invisible (renewed at half-time while the function runs). */
export const processingVisibilityMs = 10 * 60_000;

/** A TimeSpan from host.json ("00:00:02", "00:01:00.500") or a number of milliseconds, in ms. */
export function timeSpanMs(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value !== 'string') return undefined;
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$/.exec(value.trim());
  if (!m) return undefined;
  const [, d = '0', h = '0', min = '0', s = '0', frac = '0'] = m;
  return (
    ((Number(d) * 24 + Number(h)) * 60 + Number(min)) * 60_000 +
    Number(s) * 1000 +
    Math.round(Number(`0.${frac}`) * 1000)
  );
}

/** host.json `extensions.queues`, over the extension's defaults. */
export function queuesOptionsFrom(
  hostJsonQueues: Record<string, unknown> | undefined,
): QueuesOptions {
  const q = hostJsonQueues ?? {};
  const batchSize = typeof q.batchSize === 'number' ? q.batchSize : defaultQueuesOptions.batchSize;
  if (batchSize < 1 || batchSize > 32)
    throw new Error(`host.json extensions.queues.batchSize must be 1-32 (got ${batchSize})`);
  const maxPolling = timeSpanMs(q.maxPollingInterval) ?? defaultQueuesOptions.maxPollingIntervalMs;
  if (maxPolling < minimumPollingIntervalMs)
    throw new Error(
      `host.json extensions.queues.maxPollingInterval must not be less than ${minimumPollingIntervalMs} ms`,
    );
  const maxDequeueCount =
    typeof q.maxDequeueCount === 'number'
      ? q.maxDequeueCount
      : defaultQueuesOptions.maxDequeueCount;
  if (maxDequeueCount < 1)
    throw new Error('host.json extensions.queues.maxDequeueCount must be ≥ 1');
  return {
    batchSize,
    newBatchThreshold:
      typeof q.newBatchThreshold === 'number' ? q.newBatchThreshold : Math.floor(batchSize / 2),
    maxDequeueCount,
    visibilityTimeoutMs: timeSpanMs(q.visibilityTimeout) ?? 0,
    maxPollingIntervalMs: maxPolling,
    messageEncoding: q.messageEncoding === 'none' ? 'none' : 'base64',
  };
}

/** What the function is given: the decoded text and the trigger metadata the host sends. */
export interface QueueDeliveryInfo {
  text: string;
  id: string;
  popReceipt: string;
  dequeueCount: number;
  insertionTime: Date;
  expirationTime: Date;
  nextVisibleTime: Date;
}

export interface QueueListenerOptions {
  queue: QueueClient;
  /** The poison queue, or undefined for a queue that has none (its name ends in -poison). */
  poisonQueue: QueueClient | undefined;
  options: QueuesOptions;
  /** Run the function; a rejection is a failed invocation. */
  invoke(delivery: QueueDeliveryInfo): Promise<void>;
  log(line: string): void;
}

class Backoff {
  private current = minimumPollingIntervalMs;
  private exponent = 1;
  constructor(private readonly maxMs: number) {}
  next(succeeded: boolean): number {
    if (succeeded) {
      this.current = minimumPollingIntervalMs;
      this.exponent = 1;
    } else if (this.current !== this.maxMs) {
      const factor = 0.8 + Math.random() * 0.4;
      const interval =
        minimumPollingIntervalMs + factor * 2 ** (this.exponent - 1) * minimumPollingIntervalMs;
      if (interval < this.maxMs) {
        this.current = interval;
        this.exponent += 1;
      } else this.current = this.maxMs;
    }
    return this.current;
  }
}

function isBase64(text: string): boolean {
  const compact = text.replace(/\s+/g, '');
  return compact.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(compact);
}

function storageStatusOf(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? status : undefined;
}

export class StorageQueueListener {
  private readonly processing = new Set<Promise<void>>();
  private readonly backoff: Backoff;
  private stopped = true;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private foundSinceLastDelay = false;
  /** Set after a poll that found nothing while nothing was in flight. */
  private emptyWaiters: (() => void)[] = [];
  /** Requests to the queue service (GetMessages, Delete, Update, poison copies). */
  requests = 0;
  readonly id = randomUUID().slice(0, 8);

  constructor(private readonly o: QueueListenerOptions) {
    this.backoff = new Backoff(o.options.maxPollingIntervalMs);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await Promise.allSettled([...this.processing]);
  }

  /** Poll now (a test or benchmark waiting for the queue; the real host's shared watcher does this for output bindings). */
  notify(): void {
    this.wake?.();
  }

  /**
   * Resolves after a poll that found the queue empty with nothing in flight. `poke` polls now
   * (tests); a benchmark passes false, so the listener's own backoff decides when it looks.
   */
  idle(poke = true): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const done = new Promise<void>((r) => this.emptyWaiters.push(r));
    if (poke) this.notify();
    return done;
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    const { options } = this.o;
    while (!this.stopped) {
      let messages: DequeuedMessageItem[] = [];
      try {
        this.requests += 1;
        const answer = await this.o.queue.receiveMessages({
          numberOfMessages: options.batchSize,
          visibilityTimeout: processingVisibilityMs / 1000,
        });
        messages = answer.receivedMessageItems;
      } catch (err) {
        const status = storageStatusOf(err);
        if (status !== 404 && status !== 409 && (status === undefined || status < 500))
          this.o.log(`queue ${this.o.queue.name}: polling failed: ${(err as Error).message}`);
        messages = [];
      }
      if (messages.length === 0) {
        if (this.processing.size === 0) {
          const waiters = this.emptyWaiters;
          this.emptyWaiters = [];
          for (const w of waiters) w();
        }
        const wait = this.backoff.next(this.foundSinceLastDelay);
        this.foundSinceLastDelay = false;
        await this.delay(wait);
        continue;
      }
      for (const message of messages) {
        const task = this.process(message).catch((err: unknown) =>
          this.o.log(
            `queue ${this.o.queue.name}: message ${message.messageId}: ${(err as Error).message}`,
          ),
        );
        this.processing.add(task);
        void task.finally(() => this.processing.delete(task));
      }
      this.foundSinceLastDelay = true;
      // Fetch again once the messages in flight are down to the threshold.
      while (this.processing.size > options.newBatchThreshold)
        await Promise.race([...this.processing]);
    }
  }

  private async process(message: DequeuedMessageItem): Promise<void> {
    const { options } = this.o;
    let popReceipt = message.popReceipt;
    if (message.dequeueCount > options.maxDequeueCount) {
      await this.poison(message, popReceipt);
      return;
    }
    // Renew the invisibility at half-time while the function runs.
    const renew = setInterval(() => {
      this.requests += 1;
      this.o.queue
        .updateMessage(message.messageId, popReceipt, undefined, processingVisibilityMs / 1000)
        .then((r) => {
          if (r.popReceipt) popReceipt = r.popReceipt;
        })
        .catch(() => undefined);
    }, processingVisibilityMs / 2);
    let ok = true;
    let failure = '';
    try {
      if (options.messageEncoding === 'base64' && !isBase64(message.messageText))
        throw new Error('the message is not valid base64 (messageEncoding is base64)');
      const text =
        options.messageEncoding === 'base64'
          ? Buffer.from(message.messageText, 'base64').toString('utf8')
          : message.messageText;
      await this.o.invoke({
        text,
        id: message.messageId,
        popReceipt,
        dequeueCount: message.dequeueCount,
        insertionTime: message.insertedOn,
        expirationTime: message.expiresOn,
        nextVisibleTime: message.nextVisibleOn,
      });
    } catch (err) {
      ok = false;
      failure = (err as Error).message;
    } finally {
      clearInterval(renew);
    }
    if (ok) {
      await this.delete(message.messageId, popReceipt);
      return;
    }
    if (!this.o.poisonQueue) return; // no poison queue: stays invisible until its timeout ends
    if (message.dequeueCount >= options.maxDequeueCount) {
      await this.poison(message, popReceipt);
      return;
    }
    this.o.log(
      `queue ${this.o.queue.name}: message ${message.messageId} failed (delivery ${message.dequeueCount} of ${options.maxDequeueCount}): ${failure}`,
    );
    try {
      this.requests += 1;
      await this.o.queue.updateMessage(
        message.messageId,
        popReceipt,
        undefined,
        Math.round(options.visibilityTimeoutMs / 1000),
      );
    } catch (err) {
      const status = storageStatusOf(err);
      if (status !== 400 && status !== 404 && status !== 409) throw err;
    }
  }

  private async poison(message: DequeuedMessageItem, popReceipt: string): Promise<void> {
    const poisonQueue = this.o.poisonQueue;
    if (!poisonQueue) return;
    this.o.log(
      `Message Id '${message.messageId}' has reached MaxDequeueCount of ${this.o.options.maxDequeueCount}. Moving message to queue '${poisonQueue.name}'.`,
    );
    this.requests += 1;
    await poisonQueue.createIfNotExists();
    this.requests += 1;
    await poisonQueue.sendMessage(message.messageText);
    await this.delete(message.messageId, popReceipt);
  }

  private async delete(messageId: string, popReceipt: string): Promise<void> {
    try {
      this.requests += 1;
      await this.o.queue.deleteMessage(messageId, popReceipt);
    } catch (err) {
      const status = storageStatusOf(err);
      if (status !== 400 && status !== 404 && status !== 409) throw err;
    }
  }
}
