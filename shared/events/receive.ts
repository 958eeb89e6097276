// The webhook from edge to answer: verify, read, parse, store once, enqueue, answer. Nothing runs after
// the answer: the queue-triggered function processes the event (queue.ts), the status poll is the net.
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { Log } from '../runtime/log.js';
import type { CoreRuntime } from '../runtime/runtime.js';
import { storageAnswerWithin } from '../storage/answerWithin.js';
import { parseSubscriptionPayload } from './parse.js';
import { enqueueStoredEvent } from './queue.js';
import { readWebhookBody } from './read.js';
import { badRequest, HttpError } from '../http/errors.js';
import { deadLetterRow, isPoisonError } from '../storage/deadLetters.js';
import type { OctopusWebhookEvent } from './payload.js';
import {
  eventPartition,
  eventRowKey,
  eventsTable,
  maxEventIdChars,
  reducedEvent,
  storeEventOnce,
  type StoreOutcome,
} from './store.js';
import {
  holdUnstoredEvent,
  noteStorageAnswered,
  noteStorageOutage,
  storageRecentlyFailed,
  unstoredEventCount,
} from './unstored.js';
import { verifyWebhookSecret } from './verify.js';

/** How long the store may take before we answer anyway: far inside Octopus's 10 s webhook timeout. */
export const storeBudgetMs = 4000;

export interface WebhookAnswer {
  eventId: string;
  /**
   * `stored`: new (whole, or reduced to what the coordinator needs when it was too large to store
   * whole); `duplicate`: seen before, nothing changed; `held`: storage is down, kept in this
   * instance's bounded memory buffer and written when storage answers; `setAside`: storage refuses
   * it for itself even reduced, so it is recorded as a dead letter with the reason.
   */
  outcome: 'stored' | 'duplicate' | 'held' | 'setAside';
}

/** Seconds Octopus (or any sender) is asked to wait when the held buffer is full. */
export const heldBufferRetryAfterSeconds = 30;

/** How long the answer waits for the queue: an event not enqueued in time is still stored (the poll runs it). */
export const enqueueBudgetMs = 3000;

/** Verify, store once, enqueue, answer. The queue trigger processes the event (shared/events/queue.ts). */
export async function receiveOctopusEvent(
  runtime: CoreRuntime,
  request: HttpRequest,
  log: Log,
): Promise<HttpResponseInit> {
  verifyWebhookSecret(runtime.settings.webhook, request.headers);
  const payload = parseSubscriptionPayload(await readWebhookBody(request));
  const event = payload.Payload.Event;
  const receipt = {
    receivedAt: runtime.clock.now(),
    receivedBy: runtime.instanceId,
    batchId: payload.Payload.BatchId,
  };

  let outcome: StoreOutcome;
  // During an outage events go straight to the buffer (one request probes storage each second),
  // so the webhook answers at once instead of each call waiting out the storage timeout.
  const skipStorage = storageRecentlyFailed(runtime);
  try {
    if (skipStorage) throw new Error('Table Storage failed moments ago; probing again shortly');
    outcome = await storageAnswerWithin(
      storeEventOnce(runtime.tables, event, receipt),
      storeBudgetMs,
    );
    // Events held during an outage are written now, inside this invocation (bounded), not after it.
    await noteStorageAnswered(runtime, log);
  } catch (err) {
    if (isPoisonError(err)) return setAside(runtime, event, err, log);
    if (!skipStorage) noteStorageOutage(runtime);
    // Authenticated and well formed: never refuse it for our own trouble (see unstored.ts for why)
    // while there is room to keep it; past the bound, refuse rather than acknowledge what we cannot keep.
    if (!holdUnstoredEvent(runtime, event, receipt)) {
      log.error(
        `Event ${event.Id.slice(0, 100)} (${event.Category}) was refused with 503: storage is failing and ${unstoredEventCount(runtime)} held event(s) fill this instance's buffer.`,
      );
      throw new HttpError(
        503,
        'storage_unavailable',
        `Table Storage is unavailable and this instance already holds as many acknowledged events as it can keep; retry after ${heldBufferRetryAfterSeconds} s.`,
        undefined,
        { 'Retry-After': String(heldBufferRetryAfterSeconds) },
      );
    }
    log.error(
      `Event ${event.Id.slice(0, 100)} (${event.Category}) was acknowledged but not stored: ${(err as Error).message}. It is held in memory and written when storage answers; the status poll re-reads the state from Octopus.`,
    );
    return answer(202, { eventId: event.Id.slice(0, maxEventIdChars), outcome: 'held' });
  }
  const eventId = event.Id.slice(0, maxEventIdChars);
  if (outcome.kind === 'duplicate') return answer(200, { eventId, outcome: 'duplicate' });
  if (runtime.queues.configured) {
    try {
      await storageAnswerWithin(enqueueStoredEvent(runtime, outcome.stored), enqueueBudgetMs);
    } catch (err) {
      // Stored is what the answer promises: the status poll processes a pending event within a
      // minute, so a queue hiccup must not make Octopus drop the rest of its batch.
      log.warn(
        `Event ${eventId.slice(0, 100)} is stored but could not be queued (${(err as Error).message}); the status poll processes it.`,
      );
    }
  }
  return answer(202, { eventId, outcome: 'stored' });
}

/** Storage refuses the event for itself even reduced: record it with the reason (a dead letter). */
async function setAside(
  runtime: CoreRuntime,
  event: OctopusWebhookEvent,
  err: unknown,
  log: Log,
): Promise<HttpResponseInit> {
  const reason = `acknowledged but cannot be stored: ${(err as Error).message}`;
  try {
    await storageAnswerWithin(
      deadLetterRow(
        runtime.tables,
        eventsTable,
        { partitionKey: eventPartition, rowKey: eventRowKey(event.Id) },
        reason,
        runtime.clock.now(),
        JSON.stringify(reducedEvent(event)),
      ),
      storeBudgetMs,
    );
  } catch (deadErr) {
    // Storage is down: hold it like any event in an outage (the drain sets it aside later).
    if (
      !isPoisonError(deadErr) &&
      holdUnstoredEvent(runtime, event, {
        receivedAt: runtime.clock.now(),
        receivedBy: runtime.instanceId,
      })
    )
      return answer(202, { eventId: event.Id.slice(0, maxEventIdChars), outcome: 'held' });
    // Not even a dead letter could be written: refuse it (nothing acknowledged is then lost).
    throw badRequest(
      `Payload.Event cannot be stored: ${(err as Error).message}; recording it as a dead letter failed too: ${(deadErr as Error).message}`,
    );
  }
  log.error(
    `Event ${event.Id.slice(0, 100)} was set aside (table deadletters, source events): ${reason}`,
  );
  return answer(202, { eventId: event.Id.slice(0, maxEventIdChars), outcome: 'setAside' });
}

function answer(status: number, body: WebhookAnswer): HttpResponseInit {
  return { status, jsonBody: body };
}
