import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { octopusName } from '../shared/config/coordination/common.js';
import { readJsonBody, readQuery } from '../shared/http/body.js';
import { commonResponses, registerRoutes, type RouteDeclaration } from '../shared/http/routes.js';
import { contextLog } from '../shared/runtime/log.js';
import { getRuntime } from '../shared/runtime/runtime.js';

/** The freezes feature, loaded on first use (cold start). */
const freezesApi = () => import('../shared/freezes/api.js');

export const freezeBody = z.strictObject({
  /** Environments as named in Octopus; leave out to freeze every environment. */
  environments: z.array(octopusName).min(1).max(100).optional(),
  /** Why, shown on runs, promotions, the status page and 409 answers. */
  reason: z.string().trim().min(1).max(500),
  /** Who set it. */
  by: z.string().trim().min(1).max(200),
  /** When it ends by itself (ISO 8601 with offset); leave out to freeze until lifted. */
  until: z.iso.datetime({ offset: true }).optional(),
  /** Whether rollbacks (onFailure's redeployPrevious) may still deploy through it (default true). */
  allowRollbacks: z.boolean().default(true),
  /** Repeat a POST with the same requestId and you get the same freeze, not a second one. */
  requestId: z.string().trim().min(1).max(200).optional(),
});

export const freezeListQuery = z.object({
  /** Every ended freeze, not only those of the last 7 days. */
  all: z.enum(['true', 'false']).default('false'),
});

export const liftBody = z.strictObject({
  by: z.string().trim().min(1).max(200).optional(),
  reason: z.string().trim().max(500).optional(),
});

/** POST /api/freezes: 201 with the freeze (200 when its requestId already made it). */
export async function setFreezeHandler(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const { setFreeze } = await freezesApi();
  const body = await readJsonBody(request, freezeBody);
  const { freeze, created, warnings } = await setFreeze(await getRuntime(), body);
  const where = freeze.environments ? freeze.environments.join(', ') : 'every environment';
  contextLog(context).info(
    `Freeze ${freeze.id} ${created ? 'set' : 'asked for again'} on ${where} by ${freeze.by}: ${freeze.reason}`,
  );
  return {
    status: created ? 201 : 200,
    headers: { location: `/api/freezes/${encodeURIComponent(freeze.id)}` },
    jsonBody: { freeze, created, ...(warnings.length > 0 ? { warnings } : {}) },
  };
}

/** GET /api/freezes: the coordinator's freezes in force and recently ended, and Octopus's own. */
export async function listFreezesHandler(request: HttpRequest): Promise<HttpResponseInit> {
  const { listFreezes } = await freezesApi();
  const query = readQuery(request, freezeListQuery);
  return { status: 200, jsonBody: await listFreezes(await getRuntime(), query.all === 'true') };
}

/**
 * DELETE /api/freezes/{id} (optional body `{ by, reason }`): lifts the freeze. Runs waiting on it
 * deploy at their next check (within 30 s); promotion slots it blocked are named, not re-run.
 */
export async function liftFreezeHandler(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const [{ liftFreeze }, { SlotStore }] = await Promise.all([
    freezesApi(),
    import('../shared/promotion/slotStore.js'),
  ]);
  const body = await readJsonBody(request, liftBody);
  const runtime = await getRuntime();
  const id = request.params.id ?? '';
  const { freeze, alreadyLifted } = await liftFreeze(
    runtime,
    id,
    body.by ?? 'unknown',
    body.reason,
  );
  contextLog(context).info(
    `Freeze ${freeze.id} ${alreadyLifted ? 'was already lifted' : `lifted by ${freeze.liftedBy ?? '?'}`}`,
  );
  // Promotion slots this freeze blocked are not run again by themselves: say which, and how to run them.
  const latest = await new SlotStore(runtime.tables).latestOfEach();
  const blockedSlots = [...latest.values()]
    .filter((s) => s.state === 'blocked' && (s.detail ?? '').includes(freeze.id))
    .map((s) => ({
      promotion: s.promotion,
      slot: s.slot,
      runNow: { method: 'POST', path: '/api/runs', body: { promotion: s.promotion } },
    }));
  return { status: 200, jsonBody: { freeze, alreadyLifted, blockedSlots } };
}

export const routes: RouteDeclaration[] = [
  {
    name: 'freezeSet',
    method: 'POST',
    route: 'freezes',
    auth: 'function',
    body: freezeBody,
    summary:
      'Stop the line: no deployment starts in these environments (all, when none are named) until it is lifted or `until`',
    responses: {
      '201': 'The freeze, set',
      '200': 'The freeze its requestId already set',
      ...commonResponses,
    },
    handler: setFreezeHandler,
  },
  {
    name: 'freezesList',
    method: 'GET',
    route: 'freezes',
    auth: 'function',
    query: freezeListQuery,
    summary:
      'Coordinator freezes in force and recently ended, and Octopus’s own deployment freezes',
    responses: { '200': '`{ inForce, ended, octopus }`', ...commonResponses },
    handler: (request) => listFreezesHandler(request),
  },
  {
    name: 'freezeLift',
    method: 'DELETE',
    route: 'freezes/{id}',
    auth: 'function',
    body: liftBody,
    summary:
      'Lift a freeze; waiting runs deploy at their next check, and the promotion slots it blocked are named',
    params: { id: { description: 'A freeze id (frz-…)', schema: { type: 'string' } } },
    responses: {
      '200': '`{ freeze, alreadyLifted, blockedSlots }`',
      '404': 'No such freeze',
      ...commonResponses,
    },
    handler: liftFreezeHandler,
  },
];
registerRoutes(routes);
