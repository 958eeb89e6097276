// Events we acknowledged while Table Storage was down, held in memory and written when it is back.
// Answering 2xx here is deliberate: a non-2xx makes Octopus drop the rest of its batch for good
// (octopus-api.md §9), so refusing would lose more events than it saves. But memory is not storage:
// the buffer is bounded by count and bytes, and past the bound the webhook answers 503 with
// Retry-After (see receive.ts), so nothing is acknowledged that the buffer has no room to keep.
// Only outages land here: an event storage refuses for itself (too large, a key it cannot take) is
// reduced or set aside by the store and never waits in this buffer (see store.ts).
import type { Log } from '../runtime/log.js';
import type { CoreRuntime } from '../runtime/runtime.js';
import { deadLetterRow, isPoisonError } from '../storage/deadLetters.js';
import type { OctopusWebhookEvent } from './payload.js';
import { enqueueStoredEvent } from './queue.js';
import {
  eventPartition,
  eventRowKey,
  eventsTable,
  storeEventOnce,
  type ReceiptInfo,
  type StoredEvent,
} from './store.js';

/** At most this many events held per instance. */
export const maxHeldEvents = 1000;
/** At most this many bytes (UTF-16 length × 2 of the event JSON) held per instance. */
export const maxHeldBytes = 16 * 1024 * 1024;
/** After an outage failure, events are held without trying storage for this long (one probe at a time). */
export const outageProbeIntervalMs = 1000;

interface Unstored {
  event: OctopusWebhookEvent;
  receipt: ReceiptInfo;
  bytes: number;
}

class HeldBuffer {
  readonly events = new Map<string, Unstored>();
  bytes = 0;
  /** performance.now() of the last outage failure, or undefined when storage last answered. */
  failedAt: number | undefined;
  draining: Promise<number> | undefined;
}

const buffers = new WeakMap<CoreRuntime, HeldBuffer>();

function bufferOf(runtime: CoreRuntime): HeldBuffer {
  let buffer = buffers.get(runtime);
  if (!buffer) {
    buffer = new HeldBuffer();
    buffers.set(runtime, buffer);
  }
  return buffer;
}

function sizeOf(event: OctopusWebhookEvent): number {
  try {
    return JSON.stringify(event).length * 2;
  } catch {
    return maxHeldBytes; // cannot even be serialized: count it as filling the buffer
  }
}

/**
 * Keep an acknowledged event in memory. Returns false (nothing kept) when the buffer is full: the
 * caller must then refuse the event (503), since it could not keep what it acknowledged.
 */
export function holdUnstoredEvent(
  runtime: CoreRuntime,
  event: OctopusWebhookEvent,
  receipt: ReceiptInfo,
): boolean {
  const buffer = bufferOf(runtime);
  const key = eventRowKey(event.Id);
  if (buffer.events.has(key)) return true; // a duplicate of one already held
  const bytes = sizeOf(event);
  if (buffer.events.size + 1 > maxHeldEvents || buffer.bytes + bytes > maxHeldBytes) return false;
  buffer.events.set(key, { event, receipt, bytes });
  buffer.bytes += bytes;
  return true;
}

/** Note a storage outage: for a moment events are held without waiting on storage again. */
export function noteStorageOutage(runtime: CoreRuntime): void {
  bufferOf(runtime).failedAt = performance.now();
}

/** True while a recent outage says storage is down and it is not yet time to probe it again. */
export function storageRecentlyFailed(runtime: CoreRuntime): boolean {
  const buffer = buffers.get(runtime);
  if (buffer?.failedAt === undefined) return false;
  if (performance.now() - buffer.failedAt < outageProbeIntervalMs) return true;
  // Let exactly one request probe; others keep holding until it answers.
  buffer.failedAt = performance.now();
  return false;
}

/** The webhook request that finds storage answering again writes held events for at most this long. */
export const heldDrainBudgetMs = 1000;

/**
 * Storage answered: clear the outage and write what is held, within this invocation and for at most
 * `heldDrainBudgetMs` (the next request or poll writes the rest), then queue what was written.
 */
export async function noteStorageAnswered(runtime: CoreRuntime, log: Log): Promise<void> {
  const buffer = buffers.get(runtime);
  if (!buffer) return;
  buffer.failedAt = undefined;
  if (buffer.events.size > 0 && !buffer.draining)
    await storeHeldEvents(runtime, log, {
      deadline: performance.now() + heldDrainBudgetMs,
      enqueue: true,
    });
}

export function unstoredEventCount(runtime: CoreRuntime): number {
  return buffers.get(runtime)?.events.size ?? 0;
}

/** How many events this instance holds and their size, for health. */
export function heldEventStats(runtime: CoreRuntime): { count: number; bytes: number } {
  const buffer = buffers.get(runtime);
  return { count: buffer?.events.size ?? 0, bytes: buffer?.bytes ?? 0 };
}

/**
 * Write held events (stored or duplicate both clear them). An outage stops the pass (the rest wait
 * for the next one); an event storage refuses for itself is set aside with the reason, so it never
 * blocks the events behind it. One pass at a time per runtime.
 */
export function storeHeldEvents(
  runtime: CoreRuntime,
  log: Log,
  /** `deadline`: performance.now() after which the pass stops; `enqueue`: queue what it wrote. */
  options: { deadline?: number; enqueue?: boolean } = {},
): Promise<number> {
  const buffer = buffers.get(runtime);
  if (!buffer || buffer.events.size === 0) return Promise.resolve(0);
  buffer.draining ??= drain(runtime, buffer, log, options).finally(() => {
    buffer.draining = undefined;
  });
  return buffer.draining;
}

async function drain(
  runtime: CoreRuntime,
  buffer: HeldBuffer,
  log: Log,
  options: { deadline?: number; enqueue?: boolean },
): Promise<number> {
  let written = 0;
  const stored: StoredEvent[] = [];
  for (const [key, held] of [...buffer.events]) {
    if (options.deadline !== undefined && performance.now() > options.deadline) break;
    try {
      const outcome = await storeEventOnce(runtime.tables, held.event, held.receipt);
      if (outcome.kind === 'stored') stored.push(outcome.stored);
    } catch (err) {
      if (!isPoisonError(err)) {
        buffer.failedAt = performance.now();
        log.warn(
          `Table Storage is still failing; ${buffer.events.size} acknowledged event(s) wait in memory: ${(err as Error).message}`,
        );
        break;
      }
      const reason = `acknowledged but cannot be stored: ${(err as Error).message}`;
      try {
        await deadLetterRow(
          runtime.tables,
          eventsTable,
          { partitionKey: eventPartition, rowKey: key },
          reason,
          runtime.clock.now(),
          safeJson(held.event),
        );
      } catch (deadErr) {
        if (!isPoisonError(deadErr)) break;
        log.error(`Event ${key} is dropped: it cannot be stored even as a dead letter: ${reason}`);
      }
      log.error(`Event ${key} was set aside (table deadletters, source events): ${reason}`);
    }
    buffer.events.delete(key);
    buffer.bytes -= held.bytes;
    written += 1;
  }
  if (written > 0)
    log.info(`Stored ${written} event(s) that arrived while Table Storage was unavailable.`);
  if (options.enqueue && runtime.queues.configured && stored.length > 0) {
    // Not queued is still stored: the status poll processes them.
    const results = await Promise.allSettled(stored.map((s) => enqueueStoredEvent(runtime, s)));
    const failed = results.filter((r) => r.status === 'rejected').length;
    if (failed > 0)
      log.warn(
        `${failed} event(s) written from the held buffer could not be queued; the status poll processes them.`,
      );
  }
  return written;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value).slice(0, 32 * 1024);
  } catch (err) {
    return `(not serializable: ${(err as Error).message})`;
  }
}
