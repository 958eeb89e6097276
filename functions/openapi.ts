import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { registerRoutes, type RouteDeclaration } from '../shared/http/routes.js';
import { appVersion } from '../shared/version.js';
import * as approvals from './approvals.js';
import * as conditions from './conditions.js';
import * as ensureDeployed from './ensureDeployed.js';
import * as freezes from './freezes.js';
import * as health from './health.js';
import * as locks from './locks.js';
import * as octopusWebhook from './octopusWebhook.js';
import * as progress from './progress.js';
import * as reports from './reports.js';
import * as runs from './runs.js';
import * as status from './status.js';
import * as trains from './trains.js';
import * as ui from './ui.js';

/**
 * Every HTTP route the app serves, from each file's own declarations (a new file with routes adds
 * its `routes` here; test/unit/openapi.test.ts fails until it does).
 */
export function allRoutes(): RouteDeclaration[] {
  return [
    ...health.routes,
    ...routes,
    ...octopusWebhook.routes,
    ...locks.routes,
    ...runs.routes,
    ...ensureDeployed.routes,
    ...freezes.routes,
    ...progress.routes,
    ...conditions.routes,
    ...trains.routes,
    ...status.routes,
    ...reports.routes,
    ...ui.routes,
    ...approvals.routes,
  ];
}

/** OpenAPI security requirements (alternatives) of a route. */
function securityOf(op: RouteDeclaration): Record<string, string[]>[] {
  switch (op.auth) {
    case 'anonymous':
      return [];
    case 'function':
      return [{ functionKey: [] }, { functionCode: [] }];
    case 'admin':
      return [{ masterKey: [] }];
    case 'functionAndSecret':
      return [
        { functionKey: [], webhookSecret: [] },
        { functionCode: [], webhookSecret: [] },
      ];
  }
}

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
  for (const op of allRoutes()) {
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
          pathParams.length < (op.route.match(/\{/g)?.length ?? 0) ? `${op.name}All` : op.name,
        summary: op.summary,
        security: securityOf(op),
        parameters: [
          ...pathParams.map((name) => ({
            name,
            in: 'path',
            required: true,
            ...(op.params?.[name] ?? { schema: { type: 'string' } }),
          })),
          ...queryParams,
        ],
        responses: Object.fromEntries(
          Object.entries(op.responses).map(([status, description]) => [
            status,
            {
              description,
              content: {
                [Number(status) < 300
                  ? (op.produces ?? 'application/json')
                  : (op.errorsAs ?? 'application/json')]: {},
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
      if (op.form)
        operation.requestBody = {
          required: true,
          content: { 'application/x-www-form-urlencoded': { schema: jsonSchema(op.form) } },
        };
      paths[path] = { ...paths[path], [op.method.toLowerCase()]: operation };
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
        ...(allRoutes().some((r) => r.auth === 'admin')
          ? {
              masterKey: {
                type: 'apiKey',
                in: 'header',
                name: 'x-functions-key',
                description: 'The host master key (App keys → _master), for admin routes',
              },
            }
          : {}),
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

export const routes: RouteDeclaration[] = [
  {
    name: 'openApi',
    method: 'GET',
    route: 'openapi.json',
    auth: 'anonymous',
    summary: 'This document',
    responses: { '200': 'OpenAPI 3.1 document' },
    handler: openApi,
  },
];
registerRoutes(routes);
