// The events queue's two triggers with the composition's consumers: processing a message, and
// recording a message the host moved to the poison queue.
import type { Log } from '../runtime/log.js';
import type { Runtime } from '../runtime/runtime.js';
import {
  eventsMaxDequeueCount,
  eventsQueueName,
  parseEventsMessage,
  processEventsMessage,
  type QueueDelivery,
} from '../events/queue.js';
import { eventPartition } from '../events/store.js';
import { deadLetterRow } from '../storage/deadLetters.js';
import { eventConsumers } from './consumers.js';

export function processQueuedEvents(
  runtime: Runtime,
  message: unknown,
  delivery: QueueDelivery,
  log: Log,
): Promise<{ events: number }> {
  return processEventsMessage(runtime, message, delivery, log, eventConsumers);
}

/**
 * A message the host gave up on (moved to `octopus-events-poison` after `maxDequeueCount` failed
 * deliveries): each of its events is recorded as a dead letter of the queue (source `octopus-events`,
 * counted by /api/health as `events.queuePoisoned`) and logged. The events stay pending in the
 * events table, so the status poll keeps retrying them (and sets them aside after 20 failures).
 */
export async function recordPoisonedEvents(
  runtime: Runtime,
  message: unknown,
  delivery: QueueDelivery,
  log: Log,
): Promise<number> {
  const at = runtime.clock.now();
  const source = runtime.queues.name(eventsQueueName);
  let keys: string[];
  try {
    keys = parseEventsMessage(message).events.map((e) => e.k);
  } catch (err) {
    await deadLetterRow(
      runtime.tables,
      source,
      { partitionKey: 'message', rowKey: delivery.id ?? at.toISOString() },
      `not an events message, moved to the poison queue after ${eventsMaxDequeueCount} deliveries: ${(err as Error).message}`,
      at,
      typeof message === 'string' ? message : JSON.stringify(message),
    );
    log.error(
      `Queue message ${delivery.id ?? '?'} is not an events message; recorded as a dead letter.`,
    );
    return 0;
  }
  for (const rowKey of keys)
    await deadLetterRow(
      runtime.tables,
      source,
      { partitionKey: eventPartition, rowKey },
      `the events queue gave up after ${eventsMaxDequeueCount} deliveries of message ${delivery.id ?? '?'}; the event stays pending and the status poll retries it (see lastError on its row in the events table)`,
      at,
    );
  log.error(
    `Queue message ${delivery.id ?? '?'} failed ${eventsMaxDequeueCount} times and was moved to the poison queue: event row(s) ${keys.slice(0, 10).join(', ')} recorded in deadletters (source ${source}); the status poll keeps retrying them.`,
  );
  return keys.length;
}
