import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { readJsonBody, readQuery } from '../shared/http/body.js';
import { badRequest, notFound } from '../shared/http/errors.js';
import { commonResponses, registerRoutes, type RouteDeclaration } from '../shared/http/routes.js';
import { contextLog } from '../shared/runtime/log.js';
import { getRuntime, requireOctopus } from '../shared/runtime/runtime.js';

export const captureBody = z.strictObject({
  /** A project set of the coordination config. */
  set: z.string().trim().min(1).max(64),
  /** The environment whose current combination is captured (name, slug or id). */
  environment: z.string().trim().min(1).max(200),
  /** For a tenanted set: the tenant. */
  tenant: z.string().trim().min(1).max(200).optional(),
  /** Who asked, shown on the train. */
  requestedBy: z.string().max(200).optional(),
});

export const trainsQuery = z.object({
  set: z.string().trim().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

/** POST /api/trains: 201 with a new train, 200 with the train the same combination already is. */
export async function captureTrainHandler(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const [{ captureTrain }, { trainView }] = await Promise.all([
    import('../shared/trains/capture.js'),
    import('../shared/trains/view.js'),
  ]);
  const body = await readJsonBody(request, captureBody);
  const runtime = await getRuntime();
  requireOctopus(runtime);
  const { train, created } = await captureTrain(
    runtime,
    {
      set: body.set,
      environment: body.environment,
      tenant: body.tenant,
      by: `api${body.requestedBy ? `: ${body.requestedBy}` : ''}`,
    },
    contextLog(context),
  );
  return {
    status: created ? 201 : 200,
    headers: { location: `/api/trains/${encodeURIComponent(train.id)}` },
    jsonBody: { created, train: trainView(runtime, train) },
  };
}

/**
 * GET /api/trains[?set=&limit=]: newest capture first. Without `set`, the configured sets' trains:
 * one query of each set's partition, never a scan of the whole table.
 */
export async function listTrainsHandler(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  const [{ TrainStore }, { trainView }] = await Promise.all([
    import('../shared/trains/store.js'),
    import('../shared/trains/view.js'),
  ]);
  const query = readQuery(request, trainsQuery);
  const runtime = await getRuntime();
  if (query.set !== undefined && !(query.set in runtime.config.projectSets))
    throw notFound(
      `There is no project set "${query.set}" in the coordination config (sets: ${Object.keys(runtime.config.projectSets).join(', ') || 'none'}).`,
    );
  const store = new TrainStore(runtime.tables);
  const trains = await store.listSets(
    query.set === undefined ? Object.keys(runtime.config.projectSets) : [query.set],
    query.limit,
  );
  return { status: 200, jsonBody: { trains: trains.map((t) => trainView(runtime, t)) } };
}

/** GET /api/trains/{id}. */
export async function getTrainHandler(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  const [{ TrainStore }, { trainView }, { setOfTrainId }] = await Promise.all([
    import('../shared/trains/store.js'),
    import('../shared/trains/view.js'),
    import('../shared/trains/model.js'),
  ]);
  const id = request.params.id ?? '';
  const set = setOfTrainId(id);
  if (set === undefined)
    throw badRequest(
      'id: a train id is a set name, "@" and 16 hex digits (e.g. web-stack@0123456789abcdef), as POST /api/trains and GET /api/trains return it.',
    );
  const runtime = await getRuntime();
  const train = await new TrainStore(runtime.tables).get(set, id);
  if (!train) throw notFound(`There is no train "${id}". List trains with GET /api/trains.`);
  return { status: 200, jsonBody: trainView(runtime, train) };
}

export const routes: RouteDeclaration[] = [
  {
    name: 'trainsCapture',
    method: 'POST',
    route: 'trains',
    auth: 'function',
    body: captureBody,
    summary:
      'Capture the releases current and successful for a set in an environment (and tenant) as a release train; idempotent by content',
    responses: {
      '201': 'A new train',
      '200': 'The same combination was captured before: that train',
      '404': 'No such project set',
      '409':
        '`set_incomplete`: a project of the set is missing, failed or still deploying there (`details.missing` names each)',
      ...commonResponses,
    },
    handler: captureTrainHandler,
  },
  {
    name: 'trainsList',
    method: 'GET',
    route: 'trains',
    auth: 'function',
    query: trainsQuery,
    summary:
      'Release trains of one set (`set`) or of every configured set, newest capture first, at most `limit` (default 50, at most 500), with their soak and verification; reads one partition per set, never the whole table',
    responses: {
      '200':
        'The newest `limit` trains; trains of sets no longer in the config are not listed (GET /api/trains/{id} still shows one until retention deletes it)',
      '404': 'No such project set',
      ...commonResponses,
    },
    handler: listTrainsHandler,
  },
  {
    name: 'trainsGet',
    method: 'GET',
    route: 'trains/{id}',
    auth: 'function',
    summary: 'One release train: its releases, who deployed them, when, and whether it is verified',
    params: {
      id: {
        description: 'A train id: the set, "@" and 16 hex digits',
        schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}@[0-9a-f]{16}$' },
      },
    },
    responses: { '200': 'The train', '404': 'No such train', ...commonResponses },
    handler: getTrainHandler,
  },
];
registerRoutes(routes);
