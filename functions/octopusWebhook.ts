import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { subscriptionPayloadSchema } from '../shared/events/payload.js';
import { registerRoutes, type RouteDeclaration } from '../shared/http/routes.js';
import { getCoreRuntime } from '../shared/runtime/runtime.js';

/** POST /api/octopus/events: an Octopus subscription webhook. Stored once, queued, answered; processed from the queue. */
export async function octopusWebhook(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const { receiveOctopusEvent } = await import('../shared/app/webhook.js');
  return receiveOctopusEvent(await getCoreRuntime(), request, context);
}

export const routes: RouteDeclaration[] = [
  {
    name: 'octopusWebhook',
    method: 'POST',
    route: 'octopus/events',
    auth: 'functionAndSecret',
    body: subscriptionPayloadSchema,
    summary:
      'Octopus subscription webhook: stored once by Event.Id, queued and answered at once, processed from the events queue',
    responses: {
      '200': 'Duplicate, acknowledged',
      '202': 'Stored (or held while storage is down)',
      '401': 'Missing or wrong secret header',
      '400': 'Not a subscription payload',
      '413': 'Body over 256 KiB',
    },
    handler: octopusWebhook,
  },
];
registerRoutes(routes);
