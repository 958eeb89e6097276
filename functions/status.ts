import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from '@azure/functions';
import { jsonApi } from '../shared/http/handler.js';
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

app.http('status', {
  route: 'status/{set?}',
  methods: ['GET'],
  authLevel: 'function',
  handler: jsonApi(status),
});
