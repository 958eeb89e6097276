import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from '@azure/functions';
import { jsonApi } from '../shared/http/handler.js';
import { getRuntime } from '../shared/runtime/runtime.js';

/** POST /api/octopus/events: an Octopus subscription webhook. Stored once, answered at once, processed after. */
export async function octopusWebhook(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const { receiveOctopusEvent } = await import('../shared/app/webhook.js');
  return receiveOctopusEvent(await getRuntime(), request, context);
}

app.http('octopusWebhook', {
  route: 'octopus/events',
  methods: ['POST'],
  authLevel: 'function',
  handler: jsonApi(octopusWebhook),
});
