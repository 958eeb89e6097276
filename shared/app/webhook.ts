// The Octopus webhook with the composition's event consumers plugged in.
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { receiveOctopusEvent as receive } from '../events/receive.js';
import type { Log } from '../runtime/log.js';
import type { Runtime } from '../runtime/runtime.js';
import { eventConsumers } from './consumers.js';

export function receiveOctopusEvent(
  runtime: Runtime,
  request: HttpRequest,
  log: Log,
): Promise<HttpResponseInit> {
  return receive(runtime, request, log, eventConsumers);
}
