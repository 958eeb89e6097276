// The Octopus webhook and the events queue's trigger, with the composition's event consumers plugged in.
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { receiveOctopusEvent as receive } from '../events/receive.js';
import type { Log } from '../runtime/log.js';
import type { CoreRuntime } from '../runtime/runtime.js';

/** Verify, store once, enqueue, answer: the webhook loads none of the consumers (cold start). */
export function receiveOctopusEvent(
  runtime: CoreRuntime,
  request: HttpRequest,
  log: Log,
): Promise<HttpResponseInit> {
  return receive(runtime, request, log);
}
