import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { checkHealth } from '../shared/health/health.js';
import { registerRoutes, type RouteDeclaration } from '../shared/http/routes.js';
import { getRuntime } from '../shared/runtime/runtime.js';
import { appVersion } from '../shared/version.js';

/** GET /api/health: each port's state; 503 when storage is unreachable or a secret is unresolved. */
export async function health(
  _request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  const report = await checkHealth(await getRuntime(), appVersion);
  return { status: report.status === 'unavailable' ? 503 : 200, jsonBody: report };
}

export const routes: RouteDeclaration[] = [
  {
    name: 'health',
    method: 'GET',
    route: 'health',
    auth: 'anonymous',
    summary: 'Liveness and what each port is connected to',
    responses: { '200': 'Storage reachable', '503': 'Storage unreachable' },
    handler: health,
  },
];
registerRoutes(routes);
