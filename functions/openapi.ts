import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from '@azure/functions';
import { z } from 'zod';
import { subscriptionPayloadSchema } from '../shared/events/payload.js';
import { jsonApi } from '../shared/http/handler.js';
import { appVersion } from '../shared/version.js';
import { checkBody } from './conditions.js';
import { ensureBody } from './ensureDeployed.js';
import {
  acquireAnyBody,
  acquireBody,
  forceReleaseBody,
  leaseBody,
  leaveAnyBody,
  leaveBody,
  lockQuery,
  maxLockNameChars,
  renewBody,
} from './locks.js';
import { progressQuery } from './progress.js';
import { dailyReportQuery } from './reports.js';
import { cancelBody, listQuery, startBody } from './runs.js';

type Auth = 'anonymous' | 'function' | 'functionAndSecret';

interface Operation {
  method: 'get' | 'post';
  /** The route under /api, as registered (ASP.NET template syntax). */
  route: string;
  operationId: string;
  summary: string;
  auth: Auth;
  body?: z.ZodType;
  query?: z.ZodObject;
  responses: Record<string, string>;
  produces?: 'application/json' | 'text/html';
}

const errorResponses = {
  '400': 'Bad input: `{ error: { code, message } }` naming the field',
  '401': 'Missing or wrong function key',
};

/** Every HTTP operation the app serves; a test checks this list against the registrations. */
export const operations: Operation[] = [
  {
    method: 'get',
    route: 'health',
    operationId: 'health',
    summary: 'Liveness and what each port is connected to',
    auth: 'anonymous',
    responses: { '200': 'Storage reachable', '503': 'Storage unreachable' },
  },
  {
    method: 'get',
    route: 'openapi.json',
    operationId: 'openApi',
    summary: 'This document',
    auth: 'anonymous',
    responses: { '200': 'OpenAPI 3.1 document' },
  },
  {
    method: 'post',
    route: 'octopus/events',
    operationId: 'octopusWebhook',
    auth: 'functionAndSecret',
    body: subscriptionPayloadSchema,
    summary:
      'Octopus subscription webhook: stored once by Event.Id, answered at once, processed after',
    responses: {
      '200': 'Duplicate, acknowledged',
      '202': 'Stored (or held while storage is down)',
      '401': 'Missing or wrong secret header',
      '400': 'Not a subscription payload',
      '413': 'Body over 256 KiB',
    },
  },
  {
    method: 'post',
    route: 'locks/{name}/acquire',
    operationId: 'lockAcquire',
    auth: 'function',
    body: acquireBody,
    summary: 'Acquire a lease on a named lock or semaphore (optionally waiting)',
    responses: {
      '200': '`{ granted: true, leaseId, fence, expiresAt }`',
      '202': '`{ granted: false, position }`',
      '409':
        'Permits differ from the lock’s, or octopusTaskId names a task that has already finished (`task_ended`)',
      '429':
        'Too many lock calls waiting on this instance (`overloaded`): retry after `Retry-After` seconds',
      ...errorResponses,
    },
  },
  {
    method: 'post',
    route: 'locks/{name}/renew',
    operationId: 'lockRenew',
    auth: 'function',
    body: renewBody,
    summary: 'Renew a lease (holder only)',
    responses: {
      '200': 'Renewed',
      '409': 'Not the holder, or the lease is lost',
      ...errorResponses,
    },
  },
  {
    method: 'post',
    route: 'locks/{name}/release',
    operationId: 'lockRelease',
    auth: 'function',
    body: leaseBody,
    summary: 'Release a lease (holder only)',
    responses: { '200': 'Released', '409': 'Not the holder', ...errorResponses },
  },
  {
    method: 'post',
    route: 'locks/{name}/leave',
    operationId: 'lockLeave',
    auth: 'function',
    body: leaveBody,
    summary:
      'Leave the queue of a lock at once (by the requestId of the acquire, or its holder if it had none)',
    responses: {
      '200': '`{ left: true }`, or `{ left: false }` when it had no place',
      '409': 'The request holds the lock: release the lease instead',
      ...errorResponses,
    },
  },
  {
    method: 'post',
    route: 'locks/{name}/force-release',
    operationId: 'lockForceRelease',
    auth: 'function',
    body: forceReleaseBody,
    summary:
      'Free every lease on a lock now (operators: needs the admin key in `x-coordinator-admin-key` besides the function key); the holders’ next renew or release gets 409 with who and why',
    responses: {
      '200': '`{ lock, released: [{ holder, fence }], by, reason, at, lastFence }`',
      '401': 'No function key, or no `x-coordinator-admin-key` header (`admin_key_required`)',
      '403': 'Wrong admin key (`admin_key_refused`)',
      '404': 'No such lock',
      '503':
        'No admin key configured (`admin_key_not_configured`) or its Key Vault reference unresolved',
      '400': errorResponses['400'],
    },
  },
  {
    method: 'post',
    route: 'locks/acquire-any',
    operationId: 'lockAcquireAny',
    auth: 'function',
    body: acquireAnyBody,
    summary:
      'Acquire any one lock of a pool (`names`): FIFO across the pool, one place per request; answers which lock',
    responses: {
      '200': '`{ granted: true, lock, name, leaseId, fence, expiresAt }`',
      '202': '`{ granted: false, position, names, heldBy }`',
      '409': 'octopusTaskId names a task that has already finished (`task_ended`)',
      '429': 'Too many lock calls waiting on this instance (`overloaded`)',
      ...errorResponses,
    },
  },
  {
    method: 'post',
    route: 'locks/leave-any',
    operationId: 'lockLeaveAny',
    auth: 'function',
    body: leaveAnyBody,
    summary: 'Leave the queue of a pool at once (by the requestId of the acquire-any)',
    responses: { '200': '`{ left }`', ...errorResponses },
  },
  {
    method: 'get',
    route: 'locks/{name}',
    operationId: 'lockGet',
    auth: 'function',
    query: lockQuery,
    summary: 'Holders, waiters in order and why they wait, fences',
    responses: { '200': 'The lock', ...errorResponses },
  },
  {
    method: 'get',
    route: 'locks',
    operationId: 'locksList',
    auth: 'function',
    summary:
      'Every lock with holders and waiters, and `deadlocks`: task-bound holders each waiting for a lock another holds',
    responses: { '200': 'The locks', '401': errorResponses['401'] },
  },
  {
    method: 'post',
    route: 'runs',
    operationId: 'runsStart',
    auth: 'function',
    body: startBody,
    summary: 'Start a playbook run or a promotion now; with dryRun, the plan with exact releases',
    responses: {
      '201':
        'The run (status "queued" with its position when its concurrency group is busy); a project, environment, tenant or runbook Octopus does not have is a 400 unknown_name',
      '200':
        'Dry run: the plan; for a promotion also nothing to do, or already started this minute',
      '404': 'No such playbook or promotion',
      '409':
        "A promotion guard or condition stopped it, or the group's policy is reject and a run is active (run_rejected, naming it)",
      '502': 'A promotion could not be planned (Octopus unreachable, unknown names)',
      ...errorResponses,
    },
  },
  {
    method: 'get',
    route: 'runs',
    operationId: 'runsList',
    auth: 'function',
    query: listQuery,
    summary: 'Runs, newest first, optionally by state',
    responses: { '200': 'Runs', ...errorResponses },
  },
  {
    method: 'get',
    route: 'runs/{id}',
    operationId: 'runsGet',
    auth: 'function',
    summary: 'A run stage by stage, action by action',
    responses: { '200': 'The run', '404': 'No such run', '401': errorResponses['401'] },
  },
  {
    method: 'post',
    route: 'runs/{id}/cancel',
    operationId: 'runsCancel',
    auth: 'function',
    body: cancelBody,
    summary: 'Cancel a run: cancels the Octopus tasks it started, then onFailure',
    responses: {
      '202': 'Cancelling',
      '404': 'No such run',
      '409': 'Finished or rolling back',
      ...errorResponses,
    },
  },
  {
    method: 'post',
    route: 'ensure-deployed',
    operationId: 'ensureDeployed',
    auth: 'function',
    body: ensureBody,
    summary:
      'Make sure a project’s release is deployed here: already current, joined, or deployed once',
    responses: {
      '200': 'Already current',
      '202': 'The run to follow',
      '409': 'Would downgrade, another release is deploying, or a condition fails',
      ...errorResponses,
    },
  },
  {
    method: 'get',
    route: 'progress',
    operationId: 'progress',
    auth: 'function',
    query: progressQuery,
    summary:
      'The running deployment of a project and the step it has reached; long-polls for a step',
    responses: { '200': 'Progress', ...errorResponses },
  },
  {
    method: 'post',
    route: 'conditions/check',
    operationId: 'conditionsCheck',
    auth: 'function',
    body: checkBody,
    summary: 'Evaluate a named or inline condition',
    responses: { '200': '`{ ok: true }` or `{ ok: false, reasons }`', ...errorResponses },
  },
  {
    method: 'get',
    route: 'status/{set?}',
    operationId: 'status',
    auth: 'function',
    summary: 'Combined status of the configured sets (or one set)',
    responses: { '200': 'Status', '404': 'No such set', '401': errorResponses['401'] },
  },
  {
    method: 'get',
    route: 'reports/daily',
    operationId: 'reportsDaily',
    auth: 'function',
    query: dailyReportQuery,
    produces: 'text/html',
    summary: 'The daily deployment report for a date, as HTML',
    responses: { '200': 'The report', ...errorResponses },
  },
  {
    method: 'get',
    route: 'ui',
    operationId: 'ui',
    auth: 'function',
    produces: 'text/html',
    summary: 'The status page: sets, runs, locks and jobs',
    responses: { '200': 'HTML page', '401': errorResponses['401'] },
  },
];

function jsonSchema(schema: z.ZodType): unknown {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return rest;
}

/** `{set?}` in an Azure route is an optional segment; OpenAPI has none, so it becomes two paths. */
function openApiPaths(route: string): string[] {
  const optional = /\/\{(\w+)\?\}$/.exec(route);
  if (!optional) return [`/api/${route}`];
  const base = route.slice(0, optional.index);
  return [`/api/${base}`, `/api/${base}/{${optional[1]}}`];
}

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    for (const path of openApiPaths(op.route)) {
      const pathParams = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? '');
      const queryParams = op.query
        ? Object.entries(op.query.shape).map(([name, schema]) => ({
            name,
            in: 'query',
            required: !(schema as z.ZodType).safeParse(undefined).success,
            schema: jsonSchema(schema as z.ZodType),
          }))
        : [];
      const operation: Record<string, unknown> = {
        operationId:
          pathParams.length < (op.route.match(/\{/g)?.length ?? 0)
            ? `${op.operationId}All`
            : op.operationId,
        summary: op.summary,
        security:
          op.auth === 'anonymous'
            ? []
            : op.auth === 'function'
              ? [{ functionKey: [] }, { functionCode: [] }]
              : [
                  { functionKey: [], webhookSecret: [] },
                  { functionCode: [], webhookSecret: [] },
                ],
        parameters: [
          ...pathParams.map((name) => ({
            name,
            in: 'path',
            required: true,
            ...(name === 'name' && op.route.startsWith('locks/')
              ? {
                  description: `The lock name: 1 to ${maxLockNameChars} characters after percent-decoding; any characters, \`/\` sent as %2F.`,
                  schema: { type: 'string', minLength: 1, maxLength: maxLockNameChars },
                }
              : { schema: { type: 'string' } }),
          })),
          ...queryParams,
        ],
        responses: Object.fromEntries(
          Object.entries(op.responses).map(([status, description]) => [
            status,
            {
              description,
              content: {
                [Number(status) < 300 ? (op.produces ?? 'application/json') : 'application/json']:
                  {},
              },
            },
          ]),
        ),
      };
      if (op.body)
        operation.requestBody = {
          required: true,
          content: { 'application/json': { schema: jsonSchema(op.body) } },
        };
      paths[path] = { ...paths[path], [op.method]: operation };
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Octopus Coordinator API',
      version: appVersion,
      description:
        'Coordination above Octopus Deploy: locks, runs, promotions, cooperating projects, status. Errors are `{ "error": { "code", "message" } }`.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: {
        functionKey: { type: 'apiKey', in: 'header', name: 'x-functions-key' },
        functionCode: { type: 'apiKey', in: 'query', name: 'code' },
        webhookSecret: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Coordinator-Secret',
          description: 'The WEBHOOK_SECRET_HEADER setting names the header',
        },
      },
    },
    paths,
  };
}

let cached: Record<string, unknown> | undefined;

/** GET /api/openapi.json */
export async function openApi(
  _request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  cached ??= openApiDocument();
  return { status: 200, jsonBody: cached };
}

app.http('openApi', {
  route: 'openapi.json',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: jsonApi(openApi),
});
