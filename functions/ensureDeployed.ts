import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from '@azure/functions';
import { z } from 'zod';
import { octopusName } from '../shared/config/coordination/common.js';
import { conditionRef } from '../shared/config/coordination/conditions.js';
import { readJsonBody } from '../shared/http/body.js';
import { jsonApi } from '../shared/http/handler.js';
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

app.http('ensureDeployed', {
  route: 'ensure-deployed',
  methods: ['POST'],
  authLevel: 'function',
  handler: jsonApi(ensureDeployedHandler),
});
