// Each HTTP route is declared once: the Function registration (`app.http`) and the OpenAPI document
// (functions/openapi.ts) are both built from the same declaration, so they cannot drift apart.
import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from '@azure/functions';
import type { z } from 'zod';
import { jsonApi } from './handler.js';

export type RouteMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Who may call: `anonymous`; `function` (a function key, `x-functions-key` or `?code=`); `admin` (the
 * host's master key); `functionAndSecret` (a function key and the webhook secret header, which the
 * handler checks itself: Azure sees `function`).
 */
export type RouteAuth = 'anonymous' | 'function' | 'admin' | 'functionAndSecret';

export type RouteHandler = (
  request: HttpRequest,
  context: InvocationContext,
) => Promise<HttpResponseInit>;

/** A path parameter worth documenting beyond "a string". */
export interface RouteParam {
  description: string;
  /** JSON Schema of the parameter. */
  schema: Record<string, unknown>;
}

export interface RouteDeclaration {
  /** The Function's name; also the OpenAPI operationId. Unique in the app. */
  name: string;
  method: RouteMethod;
  /** The route under /api, in Azure's (ASP.NET) template syntax: `locks/{name}/acquire`, `status/{set?}`. */
  route: string;
  auth: RouteAuth;
  /** One line for the OpenAPI document. */
  summary: string;
  /** The JSON body the handler reads (readJsonBody with this schema). */
  body?: z.ZodType;
  /** A form body (application/x-www-form-urlencoded, as a browser posts a form) instead of JSON. */
  form?: z.ZodType;
  /** The query the handler reads (readQuery with this schema). */
  query?: z.ZodObject;
  /** Descriptions of path parameters, by name; undeclared ones are documented as plain strings. */
  params?: Record<string, RouteParam>;
  /** Status code → what the caller gets. */
  responses: Record<string, string>;
  /** The content type of a success (default JSON). */
  produces?: 'application/json' | 'text/html';
  /** The content type of an error answer (default JSON; a page for people answers with a page). */
  errorsAs?: 'application/json' | 'text/html';
  handler: RouteHandler;
  /**
   * `json` (default): errors thrown by the handler become the API's JSON error body (jsonApi).
   * `own`: the handler answers its own errors (the HTML status page answers with an HTML page).
   */
  errors?: 'json' | 'own';
}

/** The responses most routes share; spread them into `responses`. */
export const commonResponses = {
  '400': 'Bad input: `{ error: { code, message } }` naming the field',
  '401': 'Missing or wrong function key (Azure answers with an empty body)',
} as const;

/** Azure's auth level for a declaration. */
export function azureAuthLevel(auth: RouteAuth): 'anonymous' | 'function' | 'admin' {
  return auth === 'functionAndSecret' ? 'function' : auth;
}

/** Register each declaration as an HTTP Function (call once per file, at module load). */
export function registerRoutes(routes: readonly RouteDeclaration[]): void {
  for (const r of routes) {
    app.http(r.name, {
      route: r.route,
      methods: [r.method],
      authLevel: azureAuthLevel(r.auth),
      handler: r.errors === 'own' ? r.handler : jsonApi(r.handler),
    });
  }
}
