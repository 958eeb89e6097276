import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { conditionRef } from '../shared/config/coordination/conditions.js';
import { octopusName } from '../shared/config/coordination/common.js';
import { readJsonBody } from '../shared/http/body.js';
import { HttpError } from '../shared/http/errors.js';
import { commonResponses, registerRoutes, type RouteDeclaration } from '../shared/http/routes.js';
import { getRuntime, requireOctopus } from '../shared/runtime/runtime.js';

export const checkBody = z.strictObject({
  /** A condition name from the config, or a condition written inline. */
  condition: conditionRef,
  /** The environment (and tenant) for conditions that name none ("the same environment"). */
  environment: octopusName.optional(),
  tenant: octopusName.optional(),
});

/** POST /api/conditions/check: 200 `{ ok: true }` or `{ ok: false, reasons: [...] }`. */
export async function checkConditionHandler(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  const [{ checkCondition, expandCondition }, { UnknownNamesError }] = await Promise.all([
    import('../shared/conditions/evaluate.js'),
    import('../shared/conditions/snapshot.js'),
  ]);
  const body = await readJsonBody(request, checkBody);
  const runtime = await getRuntime();
  // A condition or set the config does not have is the caller's mistake, not "the condition is false".
  const invalid = expandCondition(body.condition, runtime.config, {
    environment: body.environment,
    tenant: body.tenant,
  }).flatMap((leaf) => (leaf.type === 'invalid' ? [leaf.reason] : []));
  if (invalid.length > 0)
    throw new HttpError(400, 'invalid_condition', `condition: ${invalid.join('; ')}`, {
      problems: invalid,
    });
  try {
    const result = await checkCondition(requireOctopus(runtime), runtime.config, body.condition, {
      environment: body.environment,
      tenant: body.tenant,
    });
    return {
      status: 200,
      jsonBody: {
        condition: body.condition,
        environment: body.environment ?? null,
        tenant: body.tenant ?? null,
        ...result,
      },
    };
  } catch (err) {
    if (err instanceof UnknownNamesError)
      throw new HttpError(400, 'unknown_name', err.message, { problems: err.problems });
    throw err;
  }
}

export const routes: RouteDeclaration[] = [
  {
    name: 'conditionsCheck',
    method: 'POST',
    route: 'conditions/check',
    auth: 'function',
    body: checkBody,
    summary: 'Evaluate a named or inline condition',
    responses: { '200': '`{ ok: true }` or `{ ok: false, reasons }`', ...commonResponses },
    handler: checkConditionHandler,
  },
];
registerRoutes(routes);
