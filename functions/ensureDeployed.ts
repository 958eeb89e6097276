import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { octopusName } from '../shared/config/coordination/common.js';
import { conditionRef } from '../shared/config/coordination/conditions.js';
import { readJsonBody } from '../shared/http/body.js';
import { commonResponses, registerRoutes, type RouteDeclaration } from '../shared/http/routes.js';
import { contextLog } from '../shared/runtime/log.js';
import { getRuntime } from '../shared/runtime/runtime.js';

export const ensureBody = z.strictObject({
  project: octopusName,
  environment: octopusName,
  tenant: octopusName.optional(),
  /** An exact release version; default the newest the lifecycle allows into the environment. */
  release: z.string().trim().min(1).max(349).optional(),
  /** A condition (name or inline) that must hold in this environment first; 409 with its reasons if not. */
  condition: conditionRef.optional(),
});

/**
 * POST /api/ensure-deployed: 200 `{ status: "current" }` when the release is already deployed there,
 * else 202 `{ status: "deploying", runId, started }` with the run to follow (GET /api/runs/{runId}).
 */
export async function ensureDeployedHandler(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const { ensureDeployed } = await import('../shared/cooperation/ensureDeployed.js');
  const body = await readJsonBody(request, ensureBody);
  const result = await ensureDeployed(await getRuntime(), body, contextLog(context));
  if (result.status === 'current') return { status: 200, jsonBody: result };
  return {
    status: 202,
    headers: result.runId
      ? { Location: `/api/runs/${encodeURIComponent(result.runId)}` }
      : undefined,
    jsonBody: {
      ...result,
      ...(result.runId ? { runUrl: `/api/runs/${encodeURIComponent(result.runId)}` } : {}),
    },
  };
}

export const routes: RouteDeclaration[] = [
  {
    name: 'ensureDeployed',
    method: 'POST',
    route: 'ensure-deployed',
    auth: 'function',
    body: ensureBody,
    summary:
      'Make sure a project’s release is deployed here: already current, joined, or deployed once',
    responses: {
      '200': 'Already current',
      '202': 'The run to follow',
      '409': 'Would downgrade, another release is deploying, or a condition fails',
      ...commonResponses,
    },
    handler: ensureDeployedHandler,
  },
];
registerRoutes(routes);
