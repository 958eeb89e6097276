import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from '@azure/functions';
import { z } from 'zod';
import { octopusName } from '../shared/config/coordination/common.js';
import { readQuery } from '../shared/http/body.js';
import { jsonApi } from '../shared/http/handler.js';
import { getRuntime } from '../shared/runtime/runtime.js';

export const progressQuery = z.object({
  project: octopusName,
  environment: octopusName,
  tenant: octopusName.optional(),
  step: z.coerce.number<string>().int().min(1).optional(),
  /** Long poll: answer as soon as `step` is done, or after this many seconds (at most 200). */
  waitSeconds: z.coerce.number<string>().int().min(0).max(3600).optional(),
});

/** GET /api/progress?project&environment&tenant[&step=N&waitSeconds=S]: the current deployment and its step. */
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

app.http('progress', {
  route: 'progress',
  methods: ['GET'],
  authLevel: 'function',
  handler: jsonApi(progressHandler),
});
