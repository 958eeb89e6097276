import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { octopusName } from '../shared/config/coordination/common.js';
import { readQuery } from '../shared/http/body.js';
import { commonResponses, registerRoutes, type RouteDeclaration } from '../shared/http/routes.js';
import { getRuntime } from '../shared/runtime/runtime.js';

export const progressQuery = z.object({
  project: octopusName,
  environment: octopusName,
  tenant: octopusName.optional(),
  /** A step number (1-based, "Step 3: …") or a step name. */
  step: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .transform((v) => (/^\d+$/.test(v) ? Number(v) : v))
    .refine((v) => v !== 0, 'step numbers start at 1')
    .optional(),
  /** Only a deployment of this release version counts. */
  release: z.string().trim().min(1).max(349).optional(),
  /**
   * Only a deployment queued at or after this counts: an ISO time, or a server task id (the waiting
   * deployment's own `ServerTasks-…`, whose queue time is used).
   */
  after: z
    .string()
    .trim()
    .refine(
      (v) => /^ServerTasks-\d+$/i.test(v) || !Number.isNaN(Date.parse(v)),
      'an ISO time (2026-12-02T07:00:00Z) or a task id (ServerTasks-123)',
    )
    .optional(),
  /** Long poll: answer as soon as `step` is done, or after this many seconds (at most 200). */
  waitSeconds: z.coerce.number<string>().int().min(0).max(3600).optional(),
});

/** GET /api/progress?project&environment&tenant[&step=N|name&release&after&waitSeconds=S]: the deployment and its step. */
export async function progressHandler(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  const { deploymentProgress, maxWaitSeconds } = await import('../shared/cooperation/progress.js');
  const query = readQuery(request, progressQuery);
  const waitSeconds =
    query.waitSeconds === undefined ? undefined : Math.min(query.waitSeconds, maxWaitSeconds);
  return {
    status: 200,
    jsonBody: await deploymentProgress(await getRuntime(), { ...query, waitSeconds }),
  };
}

export const routes: RouteDeclaration[] = [
  {
    name: 'progress',
    method: 'GET',
    route: 'progress',
    auth: 'function',
    query: progressQuery,
    summary:
      'The running deployment of a project and the step it has reached; long-polls for a step',
    responses: { '200': 'Progress', ...commonResponses },
    handler: progressHandler,
  },
];
registerRoutes(routes);
