import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from '@azure/functions';
import { checkHealth } from '../shared/health/health.js';
import { jsonApi } from '../shared/http/handler.js';
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

app.http('health', {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: jsonApi(health),
});
