// The Octopus simulator: an HTTP server (node:http) answering Octopus's REST API, plus a /_sim/ control API.
import { setTimeout as delay } from 'node:timers/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SimClock } from './clock.js';
import type { SimContext } from './context.js';
import {
  ControlError,
  SimControl,
  type ClockInput,
  type CreateReleaseInput,
  type FaultsInput,
  type OutcomeScriptInput,
  type ProjectSettingsInput,
  type RequestCounts,
  type StepDurationInput,
} from './control.js';
import { SimEngine, SimValidationError } from './engine.js';
import { FaultInjector } from './faults.js';
import { LiveMode, type LiveOptions } from './live.js';
import { dashboardRoutes } from './resources/dashboard.js';
import { deploymentFreezeRoutes } from './resources/deploymentFreezes.js';
import { deploymentRoutes } from './resources/deployments.js';
import { environmentRoutes } from './resources/environments.js';
import { eventRoutes } from './resources/events.js';
import { interruptionRoutes } from './resources/interruptions.js';
import { lifecycleRoutes } from './resources/lifecycles.js';
import { progressionRoutes } from './resources/progression.js';
import { projectRoutes } from './resources/projects.js';
import { releaseRoutes } from './resources/releases.js';
import { rootRoutes } from './resources/root.js';
import { runbookRoutes } from './resources/runbooks.js';
import { subscriptionRoutes } from './resources/subscriptions.js';
import { taskRoutes } from './resources/tasks.js';
import { tenantRoutes } from './resources/tenants.js';
import {
  matchRoute,
  SimHttpError,
  type Route,
  type SimRequest,
  type SimResponse,
} from './router.js';
import type { Scenario } from './scenario.js';
import { sampleScenario } from './sampleScenario.js';
import { emptyState, timeBasedIdOffset } from './store.js';
import { RateLimiter, type RateLimitInput } from './rateLimit.js';
import { WebhookDispatcher, type WebhookDelivery } from './webhooks.js';

export type { Scenario } from './scenario.js';
export type { WebhookDelivery } from './webhooks.js';
export type { LiveOptions } from './live.js';

export const defaultApiKey = 'API-SIMULATOR0000000000000000000';
const maxBodyBytes = 1024 * 1024;
/** Request lines longer than 8 KB are refused (414), as by http.sys and many proxies in front of Octopus. */
const maxRequestLineChars = 8192;

export interface OctopusSimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  apiKey?: string;
  /** Default: the sample scenario (dev/octopus-sim/scenarios/sample.json). */
  scenario?: Scenario;
  /** Create and deploy new releases every few minutes (true = every 3 minutes). */
  live?: boolean | LiveOptions;
  log?: (line: string) => void;
  /**
   * Serve Octopus under this virtual directory (`/octopus`): the API answers at `/octopus/api/...`
   * only, and every `Links` value carries the prefix, as a real server installed there does.
   */
  pathPrefix?: string;
  /**
   * Shift of ids that keep growing (deployments, tasks, events, ...). Default: one that grows with
   * wall time, so a restarted simulator never reuses ids a coordinator stored (Azurite keeps them).
   * Tests that name fixed ids (`ServerTasks-1001`) pass 0.
   */
  idOffset?: number;
}

export interface OctopusSimulator {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:51234. */
  readonly url: string;
  readonly apiKey: string;
  stop(): Promise<void>;
  /** POST /_sim/scenario */
  loadScenario(scenario: Scenario): { projects: number; environments: number; deployments: number };
  /** POST /_sim/script */
  script(script: OutcomeScriptInput): { scripts: number };
  /** POST /_sim/project-settings: Octopus 2025.2+ superseded-task cancellation per project. */
  projectSettings(input: ProjectSettingsInput): {
    project: string;
    cancelQueuedTasks: boolean;
    cancelRunningTasks: boolean;
  };
  /** POST /_sim/step-duration */
  setStepDuration(input: StepDurationInput): { ms: number; project: string | null };
  /** POST /_sim/task-cap: at most this many tasks execute at once (null: no cap, the default). */
  setTaskCap(input: { cap: number | null }): { cap: number | null };
  /** POST /_sim/webhook-interval */
  setWebhookBatchInterval(input: { ms: number }): { ms: number };
  /** POST /_sim/faults */
  faults(input: FaultsInput): { faults: unknown[] };
  /** POST /_sim/rate-limit: Octopus 2026.3's per-user token bucket (429 + Retry-After). */
  rateLimit(input: RateLimitInput): { perMinute: number | null; burst: number | null };
  /** POST /_sim/clock */
  clock(input: ClockInput): { now: string; paused: boolean };
  /** The simulator's current time in ms since the epoch. */
  now(): number;
  /** GET /_sim/requests */
  requests(): RequestCounts;
  /** POST /_sim/requests/reset */
  resetRequests(): RequestCounts;
  /** POST /_sim/releases: returns the Octopus release resource (PascalCase). */
  createRelease(input: CreateReleaseInput): Record<string, unknown>;
  /** GET /_sim/state */
  state(): Record<string, unknown>;
  /** POST /_sim/webhooks/flush */
  flushWebhooks(): Promise<{ deliveries: number }>;
  /** GET /_sim/webhooks */
  webhookDeliveries(): WebhookDelivery[];
}

const apiRoutes: Route[] = [
  ...rootRoutes,
  ...projectRoutes,
  ...environmentRoutes,
  ...tenantRoutes,
  ...lifecycleRoutes,
  ...releaseRoutes,
  ...progressionRoutes,
  ...deploymentRoutes,
  ...deploymentFreezeRoutes,
  ...taskRoutes,
  ...dashboardRoutes,
  ...eventRoutes,
  ...interruptionRoutes,
  ...runbookRoutes,
  ...subscriptionRoutes,
];

function octopusError(status: number, message: string, errors: string[] = []): SimResponse {
  return {
    status,
    body: {
      ErrorMessage: message,
      Errors: errors,
      Details: null,
      HelpText: null,
      HelpLink: null,
      FullException: null,
    },
  };
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        reject(new SimHttpError(413, 'The request body is larger than 1 MB.'));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new SimHttpError(400, 'The request body is not valid JSON.', [
      'Send a JSON object with Content-Type: application/json.',
    ]);
  }
}

function send(response: ServerResponse, result: SimResponse): void {
  const headers: Record<string, string> = { ...result.headers };
  if (result.status === 204 || result.body === undefined) {
    response.writeHead(result.status, headers);
    response.end();
    return;
  }
  const text = JSON.stringify(result.body);
  headers['Content-Type'] = 'application/json; charset=utf-8';
  response.writeHead(result.status, headers);
  response.end(text);
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export async function startOctopusSimulator(
  options: OctopusSimulatorOptions = {},
): Promise<OctopusSimulator> {
  const apiKey = options.apiKey ?? defaultApiKey;
  const log = options.log ?? (() => undefined);
  const clock = new SimClock();
  const faults = new FaultInjector();
  let url = '';
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const schedule = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (stopped || clock.paused) return;
    const due = engine.nextDue();
    if (due === undefined) return;
    const delay = Math.min(Math.max(0, due - clock.now()), 2_147_000_000);
    timer = setTimeout(() => engine.catchUp(), delay);
    timer.unref();
  };
  const idOffset = options.idOffset ?? timeBasedIdOffset();
  const prefix = (options.pathPrefix ?? '').replace(/\/+$/, '');
  if (prefix !== '' && !/^\/[A-Za-z0-9._~/-]+$/.test(prefix))
    throw new Error(`pathPrefix '${options.pathPrefix}' must look like /octopus`);
  const limiter = new RateLimiter(() => clock.now());
  const engine = new SimEngine(emptyState(idOffset), clock, schedule);
  const webhooks = new WebhookDispatcher(
    () => engine.state,
    clock,
    faults,
    () => url,
    log,
  );
  engine.addParticipant(webhooks);
  const sim: SimContext = {
    engine,
    clock,
    webhooks,
    apiUser: { userId: 'Users-1', username: 'api-user', userAgent: 'OctopusClient-js' },
    idOffset,
    state: () => engine.state,
  };
  const control = new SimControl(sim, faults);
  control.loadScenario(options.scenario ?? sampleScenario);
  if (options.live)
    engine.addParticipant(new LiveMode(engine, options.live === true ? {} : options.live, log));

  const controlRoutes: Record<string, (body: unknown) => unknown> = {
    'POST /_sim/scenario': (body) => control.loadScenario(body),
    'POST /_sim/script': (body) => control.script(body),
    'POST /_sim/step-duration': (body) => control.setStepDuration(body),
    'POST /_sim/task-cap': (body) => control.setTaskCap(body),
    'POST /_sim/project-settings': (body) => control.projectSettings(body),
    'POST /_sim/webhook-interval': (body) => control.setWebhookBatchInterval(body),
    'POST /_sim/faults': (body) => control.faults(body),
    'POST /_sim/clock': (body) => control.clock(body),
    'GET /_sim/requests': () => control.requests(),
    'POST /_sim/requests/reset': () => control.resetRequests(),
    'POST /_sim/releases': (body) => control.createRelease(body),
    'GET /_sim/state': () => control.summary(),
    'POST /_sim/webhooks/flush': () => control.flushWebhooks(),
    'GET /_sim/webhooks': () => control.webhookDeliveries(),
    'POST /_sim/rate-limit': (body) => limiter.configure(body),
    'GET /_sim': () => controlApiDescription(prefix),
  };

  async function handleControl(
    method: string,
    path: string,
    request: IncomingMessage,
  ): Promise<SimResponse> {
    const handler = controlRoutes[`${method} ${path.replace(/\/$/, '')}`];
    if (!handler)
      return {
        status: 404,
        body: {
          error: {
            code: 'not_found',
            message: `No control endpoint ${method} ${path}. See GET /_sim/state.`,
          },
        },
      };
    try {
      const body = parseJson(await readBody(request));
      const result = await handler(body ?? {});
      return { status: 200, body: result };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const status = error instanceof ControlError || error instanceof SimHttpError ? 400 : 500;
      return {
        status,
        body: { error: { code: status === 400 ? 'bad_request' : 'internal', message } },
      };
    }
  }

  async function handleApi(
    method: string,
    url: URL,
    request: IncomingMessage,
  ): Promise<SimResponse> {
    const path = url.pathname;
    const match = matchRoute(apiRoutes, method, path);
    const endpoint =
      match && 'route' in match ? `${method} ${match.route.template}` : `${method} ${path}`;
    control.countRequest(endpoint, request.url?.length ?? 0);

    const key =
      headerValue(request, 'x-octopus-apikey') ??
      [...url.searchParams].find(([k]) => k.toLowerCase() === 'apikey')?.[1];
    // The root document and a space's root answer without a key, as Octopus's do.
    const anonymous = method === 'GET' && (path === '/api' || /^\/api\/Spaces-\d+\/?$/i.test(path));
    if (key !== apiKey && !(anonymous && key === undefined))
      return octopusError(
        401,
        'You must be logged in to perform this action. Please provide a valid API key in the X-Octopus-ApiKey header.',
      );

    const wait = limiter.take(key === apiKey ? 'user' : 'anonymous');
    if (wait !== undefined)
      return {
        ...octopusError(429, 'You have exceeded the API rate limit. Retry after the time given.', [
          `Rate limit of ${limiter.describe()} exceeded.`,
        ]),
        headers: { 'Retry-After': String(wait) },
      };

    let delayAfterMs = 0;
    for (const fault of faults.takeHttp(method, path)) {
      if (fault.type === 'delay' && fault.after) delayAfterMs += fault.delayMs;
      else if (fault.type === 'delay') await delay(fault.delayMs);
      else if (fault.type === 'rateLimit')
        return {
          ...octopusError(
            429,
            'You have exceeded the rate limit. Wait before sending more requests.',
            ['Too many requests (simulated).'],
          ),
          headers: { 'Retry-After': String(fault.retryAfterSeconds) },
        };
      else
        return octopusError(
          fault.status,
          `The server had a problem handling the request (simulated ${fault.status}).`,
        );
    }

    if (!match)
      return octopusError(404, 'The resource you requested was not found.', [
        `There is no resource at ${method} ${path}.`,
      ]);
    if ('methodNotAllowed' in match)
      return octopusError(405, `The method ${method} is not allowed on ${path}.`);
    const simRequest: SimRequest = {
      method,
      path,
      params: match.params,
      query: url.searchParams,
      body: parseJson(await readBody(request)),
      headers: request.headers,
    };
    engine.catchUp();
    const result = await match.route.handler(simRequest, sim);
    if (delayAfterMs > 0) await delay(delayAfterMs);
    return result;
  }

  const server = http.createServer((request, response) => {
    const method = (request.method ?? 'GET').toUpperCase();
    const requestUrl = new URL(request.url ?? '/', 'http://localhost');
    if ((request.url ?? '').length > maxRequestLineChars) {
      send(
        response,
        octopusError(414, 'The request URL is too long.', [
          `The request line is ${(request.url ?? '').length} characters; servers and proxies commonly refuse more than ${maxRequestLineChars}. Batch ids in smaller groups.`,
        ]),
      );
      return;
    }
    // Under a virtual directory the API (and the control API, also at the root) sit below the prefix;
    // an API path without it is not found, as on a real server installed there.
    let pathname = requestUrl.pathname;
    const underPrefix = prefix === '' || pathname === prefix || pathname.startsWith(`${prefix}/`);
    if (prefix !== '' && underPrefix) pathname = pathname.slice(prefix.length) || '/';
    requestUrl.pathname = pathname;
    const isControl = pathname === '/_sim' || pathname.startsWith('/_sim/');
    const work = isControl
      ? handleControl(method, pathname, request)
      : !underPrefix
        ? Promise.resolve(
            octopusError(404, 'The resource you requested was not found.', [
              `Octopus is served under ${prefix}; there is nothing at ${requestUrl.pathname}.`,
            ]),
          )
        : handleApi(method, requestUrl, request).then((r) => withPrefixedLinks(r, prefix));
    work
      .catch((error: unknown) => {
        if (error instanceof SimHttpError)
          return octopusError(error.status, error.message, error.errors);
        if (error instanceof SimValidationError)
          return octopusError(error.status, 'There was a problem with your request.', error.errors);
        log(
          `simulator error on ${method} ${requestUrl.pathname}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
        return octopusError(500, 'The simulator failed while handling the request; see its log.');
      })
      .then((result) => send(response, result))
      .catch(() => response.destroy());
  });
  server.keepAliveTimeout = 1000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  url = `http://${host}:${address.port}${prefix}`;
  log(
    `Octopus simulator listening on ${url} (space ${engine.state.space.name}, ${engine.state.projects.length} projects)`,
  );
  schedule();

  return {
    url,
    apiKey,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      webhooks.stop();
      // A receiver that never answers must not hold stop() up for its whole WebhookTimeout.
      await Promise.race([webhooks.idle(), delay(500)]);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    loadScenario: (scenario) => control.loadScenario(scenario),
    script: (input) => control.script(input),
    projectSettings: (input) => control.projectSettings(input),
    setStepDuration: (input) => control.setStepDuration(input),
    setTaskCap: (input) => control.setTaskCap(input),
    setWebhookBatchInterval: (input) => control.setWebhookBatchInterval(input),
    faults: (input) => control.faults(input),
    rateLimit: (input) => limiter.configure(input),
    clock: (input) => control.clock(input),
    now: () => clock.now(),
    requests: () => control.requests(),
    resetRequests: () => control.resetRequests(),
    createRelease: (input) => control.createRelease(input),
    state: () => control.summary(),
    flushWebhooks: () => control.flushWebhooks(),
    webhookDeliveries: () => control.webhookDeliveries(),
  };
}

/** Prefixes every `Links` value (paths from the host root) with the virtual directory. */
function withPrefixedLinks(result: SimResponse, prefix: string): SimResponse {
  if (prefix === '' || result.body === undefined) return result;
  const visit = (value: unknown, inLinks: boolean): unknown => {
    if (Array.isArray(value)) return value.map((v) => visit(v, false));
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = visit(v, inLinks || k === 'Links');
      return out;
    }
    if (inLinks && typeof value === 'string' && value.startsWith('/')) return `${prefix}${value}`;
    return value;
  };
  return { ...result, body: visit(result.body, false) };
}

/** GET /_sim: the control API, for people scripting demos and tests. */
function controlApiDescription(prefix: string): Record<string, unknown> {
  return {
    about:
      'Octopus simulator control API. Not part of Octopus: these endpoints drive the simulator. They answer at /_sim/... (and below the virtual directory when one is set). Bodies are JSON.',
    virtualDirectory: prefix || null,
    endpoints: [
      { call: 'GET /_sim', does: 'This description.' },
      {
        call: 'GET /_sim/state',
        does: 'Summary: projects, environments, tenants, deployments, tasks, clock, scripts.',
      },
      {
        call: 'POST /_sim/scenario',
        body: 'a scenario (see dev/octopus-sim/scenarios/sample.json)',
        does: 'Replace everything with this scenario.',
      },
      {
        call: 'POST /_sim/script',
        body: '{project, environment, tenant?, outcome: "fail"|"success"|"manualIntervention", failAtStep?, errorMessage?, atStep?, guidedFailure?, count?}',
        does: 'Script the next `count` (default 1) deployments of a project there. "fail" fails at failAtStep (default the last step); with guidedFailure: true (or UseGuidedFailure on the deployment or environment) the failure pauses the task instead, raising a GuidedFailure interruption (task stays Executing, HasPendingInterruptions true) until someone answers Fail/Retry/Ignore/Exclude through the interruptions API. "manualIntervention" pauses at atStep (default 1) with a ManualIntervention interruption (task reads Queued, HasPendingInterruptions true, its concurrency slot freed) until someone answers Proceed/Abort: PUT /api/{spaceId}/interruptions/{id}/responsible, then POST /api/{spaceId}/interruptions/{id}/submit {Id, SpaceId, Result | Guidance, Notes?}.',
      },
      {
        call: 'POST /_sim/project-settings',
        body: '{project, cancelQueuedTasks?, cancelRunningTasks?}',
        does: "Octopus 2025.2+ superseded tasks (off unless set, like a project older than the setting). cancelQueuedTasks: a new deployment that runs the whole process (no skipped steps, no machine filters) cancels the older queued ones of the same project/environment/tenant and takes the earliest one's place. cancelRunningTasks: a successful one cancels older paused ones (Cancelling, then Canceled). A superseded task ends Canceled like any other; the only mark is its TaskCanceled audit event by users-system/system (GET /api/{spaceId}/events?regarding=<task id>), where a user's cancel carries that user.",
      },
      {
        call: 'POST /_sim/step-duration',
        body: '{ms, project?}',
        does: 'How long each step takes (all projects, or one).',
      },
      {
        call: 'POST /_sim/task-cap',
        body: '{cap: number | null}',
        does: "Octopus's task cap: at most that many tasks execute at once; priority deployments (Priority: On) start first.",
      },
      {
        call: 'POST /_sim/releases',
        body: '{project, version, channel?, releaseNotes?}',
        does: 'Create a release (as a build server would).',
      },
      {
        call: 'GET /api/{spaceId}/tasks/{id}',
        does: 'Not control, but worth knowing: a cancelled running or paused task reads Cancelling for about 200 ms before Canceled.',
      },
      {
        call: 'POST /_sim/faults',
        body: '{faults: [{type: "status"|"delay"|"rateLimit"|"webhook...", ...}]}',
        does: 'Inject HTTP faults on matching requests.',
      },
      {
        call: 'POST /_sim/rate-limit',
        body: '{perMinute, burst} or {perMinute: null}',
        does: "Octopus 2026.3's per-user token bucket: past it every API call answers 429 with Retry-After.",
      },
      {
        call: 'POST /_sim/clock',
        body: '{action: "pause"|"resume"|"advance", ms?}',
        does: 'Pause, resume or move the simulated clock.',
      },
      {
        call: 'POST /_sim/webhook-interval',
        body: '{ms}',
        does: 'How often subscription webhook batches go out.',
      },
      { call: 'POST /_sim/webhooks/flush', does: 'Send pending webhook events now.' },
      { call: 'GET /_sim/webhooks', does: 'Webhook deliveries made so far (status, event ids).' },
      {
        call: 'GET /_sim/requests',
        does: 'API requests per templated endpoint since the last reset.',
      },
      { call: 'POST /_sim/requests/reset', does: 'Reset the request counts.' },
    ],
  };
}
