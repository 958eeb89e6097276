// Route table for the simulator: templates like "/api/{spaceId}/projects/{id}" matched in order.
import type { SimContext } from './context.js';

export interface SimRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

export interface SimResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (request: SimRequest, sim: SimContext) => SimResponse | Promise<SimResponse>;

export interface Route {
  method: string;
  template: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

/** An Octopus-style error: status plus ErrorMessage and Errors. */
export class SimHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors: string[] = [],
  ) {
    super(message);
  }
}

export function route(method: string, template: string, handler: Handler): Route {
  const names: string[] = [];
  const source = template
    .replace(/[.*+?^$()|[\]\\]/g, '\\$&')
    .replace(/\\?\{(\w+)\\?\}/g, (_m, name: string) => {
      names.push(name);
      return name === 'spaceId' ? '(Spaces-\\d+)' : '([^/]+)';
    });
  return { method, template, pattern: new RegExp(`^${source}/?$`, 'i'), names, handler };
}

export function matchRoute(
  routes: Route[],
  method: string,
  path: string,
): { route: Route; params: Record<string, string> } | { methodNotAllowed: true } | undefined {
  let pathMatched = false;
  for (const candidate of routes) {
    const match = candidate.pattern.exec(path);
    if (!match) continue;
    pathMatched = true;
    if (candidate.method !== method) continue;
    const params: Record<string, string> = {};
    candidate.names.forEach((name, i) => {
      params[name] = decodeURIComponent(match[i + 1] ?? '');
    });
    return { route: candidate, params };
  }
  return pathMatched ? { methodNotAllowed: true } : undefined;
}

export const ok = (body: unknown, status = 200): SimResponse => ({ status, body });

export function notFound(kind: string, id: string): SimHttpError {
  return new SimHttpError(404, `The ${kind} ${id} was not found.`, [
    `No ${kind} with the id ${id} exists in this space.`,
  ]);
}
