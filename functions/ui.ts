import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { readQuery } from '../shared/http/body.js';
import { toErrorResponse } from '../shared/http/handler.js';
import { commonResponses, registerRoutes, type RouteDeclaration } from '../shared/http/routes.js';
import { getRuntime } from '../shared/runtime/runtime.js';
import { pageHeaders, renderErrorPage } from '../shared/ui/errorPage.js';

export const minRefreshSeconds = 5;
export const maxRefreshSeconds = 3600;

const query = z.object({
  /**
   * Seconds between the page's own reloads: clamped to 5..3600 (?refresh=1 reloads every 5 s rather
   * than answering a page with an error); only a value that is not a number is refused.
   */
  refresh: z.coerce
    .number()
    .finite()
    .transform((v) => Math.min(maxRefreshSeconds, Math.max(minRefreshSeconds, Math.round(v))))
    .default(30),
});

/** GET /api/ui: the status page (sets, runs, locks, timer jobs) as HTML, read from storage only. */
export async function statusPage(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  let refreshSeconds = 30;
  try {
    refreshSeconds = readQuery(request, query).refresh;
    const [{ readStatusPage }, { renderStatusPage }] = await Promise.all([
      import('../shared/ui/readStatusPage.js'),
      import('../shared/ui/renderStatusPage.js'),
    ]);
    const runtime = await getRuntime();
    const model = await readStatusPage(runtime, { refreshSeconds });
    return { status: 200, headers: pageHeaders, body: renderStatusPage(model) };
  } catch (err) {
    const mapped = toErrorResponse(err, context);
    const message =
      (mapped.jsonBody as { error?: { message?: string } } | undefined)?.error?.message ??
      'unexpected error';
    return {
      status: mapped.status ?? 500,
      headers: pageHeaders,
      body: renderErrorPage(message, refreshSeconds),
    };
  }
}

export const routes: RouteDeclaration[] = [
  {
    name: 'ui',
    method: 'GET',
    route: 'ui',
    auth: 'function',
    produces: 'text/html',
    summary: 'The status page: sets, runs, locks and jobs',
    responses: { '200': 'HTML page', '401': commonResponses['401'] },
    handler: statusPage,
    // Errors are answered as an HTML page, not the API's JSON.
    errors: 'own',
  },
];
registerRoutes(routes);
