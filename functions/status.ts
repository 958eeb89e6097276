import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { commonResponses, registerRoutes, type RouteDeclaration } from '../shared/http/routes.js';
import { getRuntime } from '../shared/runtime/runtime.js';

/** GET /api/status and /api/status/{set}: each set x environment (x tenant) as last recorded. */
export async function status(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  const { statusView } = await import('../shared/ui/statusView.js');
  const set = request.params.set;
  const view = await statusView(await getRuntime(), set);
  return {
    status: 200,
    jsonBody: set === undefined ? view : { lastPoll: view.lastPoll, ...view.sets[0] },
  };
}

export const routes: RouteDeclaration[] = [
  {
    name: 'status',
    method: 'GET',
    route: 'status/{set?}',
    auth: 'function',
    summary: 'Combined status of the configured sets (or one set)',
    responses: { '200': 'Status', '404': 'No such set', '401': commonResponses['401'] },
    handler: status,
  },
];
registerRoutes(routes);
