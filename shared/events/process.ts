// Step 5: hand stored events to the consumers. Runs twice over: from the events queue's trigger
// (queue.ts; any instance) and from the status poll (any instance), so an event is not lost when it
// was stored but never queued, or the queue gave up on it.
import type { Log } from '../runtime/log.js';
import type { Runtime } from '../runtime/runtime.js';
import type { StatusSnapshot } from '../status/snapshot.js';
import type { EventConsumer, EventContext } from './consumers.js';
import { deadLetterTable, listDeadLetters } from '../storage/deadLetters.js';
import {
  advanceWatermark,
  eventsTable,
  markEventsProcessed,
  readRecentEvents,
  recordEventFailure,
  type StoredEvent,
} from './store.js';

export interface ProcessResult {
  processed: number;
  failed: number;
  setAside: number;
  /** Row keys of the events that failed and stay pending (not those set aside). */
  failedKeys: string[];
}

/** Run every consumer on each event; mark the ones all consumers accepted, record failures on the rest. */
export async function processStoredEvents(
  runtime: Runtime,
  events: readonly StoredEvent[],
  log: Log,
  context: EventContext,
  consumers: readonly EventConsumer[],
): Promise<ProcessResult> {
  const done: string[] = [];
  const result: ProcessResult = { processed: 0, failed: 0, setAside: 0, failedKeys: [] };
  for (const stored of events) {
    const failures: string[] = [];
    for (const consumer of consumers) {
      try {
        await consumer.handle(runtime, stored.event, log, context);
      } catch (err) {
        failures.push(`${consumer.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (failures.length === 0) {
      done.push(stored.rowKey);
      continue;
    }
    result.failed += 1;
    const message = failures.join('; ');
    log.warn(
      `Event ${stored.event.Id} (${stored.event.Category}) failed and stays pending: ${message}`,
    );
    const setAside = await recordEventFailure(
      runtime.tables,
      stored,
      message,
      runtime.clock.now(),
    ).catch(() => false);
    if (!setAside) result.failedKeys.push(stored.rowKey);
    if (setAside) {
      result.setAside += 1;
      log.error(
        `Event ${stored.event.Id} failed ${stored.attempts + 1} times and is set aside; see lastError on its row in the events table.`,
      );
    }
  }
  const unmarkable = await markEventsProcessed(runtime.tables, done, runtime.clock.now());
  if (unmarkable.length > 0) {
    result.setAside += unmarkable.length;
    log.error(
      `${unmarkable.length} event row(s) could not be marked processed and are set aside (table ${deadLetterTable}, source events).`,
    );
  }
  result.processed = done.length;
  return result;
}

/**
 * The status poll's pass: every stored event not yet processed (after the watermark), then the
 * watermark moves over the prefix that is done. `snapshot` was taken after the events were listed.
 */
export async function processPendingEvents(
  runtime: Runtime,
  log: Log,
  consumers: readonly EventConsumer[],
  takeSnapshot: () => Promise<StatusSnapshot | undefined>,
  /** Just stored by this pass (the poll's catch-up): processed even if they sort below the read window. */
  alsoPending: readonly StoredEvent[] = [],
): Promise<ProcessResult & { snapshot: StatusSnapshot | undefined }> {
  const [{ events }, deadLetters] = await Promise.all([
    readRecentEvents(runtime.tables),
    listDeadLetters(runtime.tables, eventsTable),
  ]);
  // Rows set aside earlier are done for this pass and every later one: they never block again.
  const setAside = new Set(deadLetters.map((d) => d.rowKey));
  const pending = events.filter((e) => !e.processed && !setAside.has(e.rowKey));
  const listed = new Set(events.map((e) => e.rowKey));
  for (const e of alsoPending) if (!listed.has(e.rowKey)) pending.push(e);
  const snapshot = await takeSnapshot();
  const result = await processStoredEvents(
    runtime,
    pending,
    log,
    { refreshedSets: new Set(), memo: {}, ...(snapshot ? { snapshot } : {}) },
    consumers,
  );
  const failedKeys = new Set<string>();
  if (result.failed > 0) {
    // Events still pending stop the watermark; re-read to learn which (a cheap key-range read).
    const [again, deadNow] = await Promise.all([
      readRecentEvents(runtime.tables),
      listDeadLetters(runtime.tables, eventsTable),
    ]);
    for (const d of deadNow) setAside.add(d.rowKey);
    for (const e of again.events)
      if (!e.processed && !setAside.has(e.rowKey)) failedKeys.add(e.rowKey);
  }
  let watermark: string | undefined;
  for (const e of events) {
    if (failedKeys.has(e.rowKey)) break;
    watermark = e.rowKey;
  }
  if (watermark) await advanceWatermark(runtime.tables, watermark);
  return { ...result, snapshot };
}
