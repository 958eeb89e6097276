// The webhook from edge to answer: verify, read, parse, store once, answer; processing comes after.
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { consoleLog, type Log } from '../runtime/log.js';
import type { Runtime } from '../runtime/runtime.js';
import { storageAnswerWithin } from '../storage/answerWithin.js';
import type { EventConsumer } from './consumers.js';
import { parseSubscriptionPayload } from './parse.js';
import { processSoon } from './process.js';
import { readWebhookBody } from './read.js';
import { storeEventOnce, type StoreOutcome } from './store.js';
import { holdUnstoredEvent } from './unstored.js';
import { verifyWebhookSecret } from './verify.js';

/** How long the store may take before we answer anyway: far inside Octopus's 10 s webhook timeout. */
export const storeBudgetMs = 4000;

export interface WebhookAnswer {
  eventId: string;
  /** `stored`: new; `duplicate`: seen before, nothing changed; `held`: storage failed, kept in memory. */
  outcome: 'stored' | 'duplicate' | 'held';
}

/** `consumers` hear the event after the answer (the composition root's list, shared/app/consumers.ts). */
export async function receiveOctopusEvent(
  runtime: Runtime,
  request: HttpRequest,
  log: Log,
  consumers: readonly EventConsumer[],
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
  try {
    outcome = await storageAnswerWithin(
      storeEventOnce(runtime.tables, event, receipt),
      storeBudgetMs,
    );
  } catch (err) {
    // Authenticated and well formed: never refuse it for our own trouble (see unstored.ts for why).
    holdUnstoredEvent(runtime, event, receipt);
    log.error(
      `Event ${event.Id} (${event.Category}) was acknowledged but not stored: ${(err as Error).message}. It is held in memory and written when storage answers; the status poll re-reads the state from Octopus.`,
    );
    return answer(202, { eventId: event.Id, outcome: 'held' });
  }
  if (outcome.kind === 'duplicate') return answer(200, { eventId: event.Id, outcome: 'duplicate' });
  // The work after the answer outlives this invocation, so it logs to the process (the host keeps
  // console output), not to this invocation's context, which is closed by then.
  processSoon(runtime, outcome.stored, consoleLog, consumers);
  return answer(202, { eventId: event.Id, outcome: 'stored' });
}

function answer(status: number, body: WebhookAnswer): HttpResponseInit {
  return { status, jsonBody: body };
}
