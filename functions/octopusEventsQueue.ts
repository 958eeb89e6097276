import { app, type InvocationContext } from '@azure/functions';
import { getRuntime } from '../shared/runtime/runtime.js';

/** What the queue trigger's metadata says about this delivery. */
function delivery(context: InvocationContext): { id?: string; dequeueCount: number } {
  const meta = context.triggerMetadata ?? {};
  const count = Number(meta.dequeueCount ?? 1);
  return {
    ...(typeof meta.id === 'string' ? { id: meta.id } : {}),
    dequeueCount: Number.isFinite(count) && count > 0 ? count : 1,
  };
}

/** Queue `octopus-events`: the events the webhook stored, processed with the host's retries. */
export async function octopusEventsQueue(
  message: unknown,
  context: InvocationContext,
): Promise<void> {
  const { processQueuedEvents } = await import('../shared/app/eventsQueue.js');
  await processQueuedEvents(await getRuntime(), message, delivery(context), context);
}

/** Queue `octopus-events-poison`: messages the host gave up on, recorded and reported by health. */
export async function octopusEventsPoison(
  message: unknown,
  context: InvocationContext,
): Promise<void> {
  const { recordPoisonedEvents } = await import('../shared/app/eventsQueue.js');
  await recordPoisonedEvents(await getRuntime(), message, delivery(context), context);
}

// The queue names are the ones shared/events/queue.ts sends to (eventsQueueName); a unit test compares.
app.storageQueue('octopusEventsQueue', {
  queueName: 'octopus-events',
  connection: 'AzureWebJobsStorage',
  handler: octopusEventsQueue,
});

app.storageQueue('octopusEventsPoison', {
  queueName: 'octopus-events-poison',
  connection: 'AzureWebJobsStorage',
  handler: octopusEventsPoison,
});
