// The local stand-in for `func start`: loads the compiled app exactly as Azure would (the package's
// `main` glob), captures its registrations, serves HTTP functions on their routes and fires timers on
// their NCRONTAB schedules (UTC, as on Linux plans). Invocations go through the library's own
// InvocationModel, so handlers see the same HttpRequest/Timer objects as in Azure.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Cron } from 'croner';
import { registerQueueProcessor } from '../shared/events/queue.js';
import {
  defaultQueuesOptions,
  queuesOptionsFrom,
  StorageQueueListener,
  type QueueDeliveryInfo,
  type QueuesOptions,
} from './queueListener.js';

interface BindingMetadata {
  type: string;
  direction: string;
  route?: string;
  methods?: string[];
  authLevel?: string;
  schedule?: string;
  runOnStartup?: boolean;
  [key: string]: unknown;
}

interface FunctionMetadata {
  name: string;
  bindings: Record<string, BindingMetadata>;
}

interface CapturedFunction {
  metadata: FunctionMetadata;
  callback: (...args: unknown[]) => unknown;
}

interface RpcHttpResult {
  statusCode?: string;
  headers?: Record<string, string>;
  cookies?: { name: string; value: string }[];
  body?: { bytes?: Uint8Array; string?: string };
}

interface InvocationModelLike {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(
    context: unknown,
    inputs: unknown[],
    callback: (...args: unknown[]) => unknown,
  ): Promise<unknown>;
  getResponse(
    context: unknown,
    result: unknown,
  ): Promise<{ returnValue?: { http?: RpcHttpResult } }>;
}

interface ProgrammingModelLike {
  getInvocationModel(coreCtx: unknown): InvocationModelLike;
  /** What the worker asks at start; with HTTP streaming on, the library's proxy (HttpUri). */
  getCapabilities?(capabilities: Record<string, string>): Promise<Record<string, string>>;
}

interface Registry {
  functions: CapturedFunction[];
  programmingModel: ProgrammingModelLike | undefined;
}

export interface HttpFunction {
  name: string;
  triggerName: string;
  route: string;
  methods: string[];
  authLevel: string;
  metadata: FunctionMetadata;
  callback: CapturedFunction['callback'];
  pattern: RegExp;
  paramNames: string[];
  precedence: number[];
}

export interface TimerFunction {
  name: string;
  triggerName: string;
  schedule: string;
  runOnStartup: boolean;
  metadata: FunctionMetadata;
  callback: CapturedFunction['callback'];
}

export interface QueueFunction {
  name: string;
  triggerName: string;
  queueName: string;
  /** The app setting holding the storage connection (AzureWebJobsStorage). */
  connection: string;
  metadata: FunctionMetadata;
  callback: CapturedFunction['callback'];
}

export interface InvocationRecord {
  name: string;
  kind: 'http' | 'timer' | 'queue';
  startedAt: Date;
  durationMs: number;
  outcome: string;
}

export interface FunctionHostOptions {
  /** The app's root folder (where package.json and host.json are). */
  appRoot: string;
  port: number;
  host?: string;
  /** Where `%SETTING%` references in schedules are read (defaults to process.env). */
  env?: NodeJS.ProcessEnv;
  /** If set, every non-anonymous function needs this key in x-functions-key or ?code=, as in Azure. */
  functionKey?: string;
  /** Fire timers on their schedules (default true). */
  timers?: boolean;
  /** Listen to the queues of queue-triggered functions (default true). */
  queues?: boolean;
  /**
   * Where each timer's schedule status (last, next, lastUpdated) is kept between starts, as the real
   * host keeps it in blob storage (useMonitor). A timer whose recorded next occurrence passed while the
   * host was down runs once at start with isPastDue true. Without a file, nothing is ever past due.
   */
  timerStatusFile?: string;
  /**
   * Load these files instead of package.json's `main` (the bundle). Only for benches that must share
   * module state with the app (bench/webhookApp.ts reads the app's request counters): everything else
   * loads what is deployed.
   */
  files?: string[];
  log?: (line: string) => void;
}

const devDir = dirname(new URL(import.meta.url).pathname);

function loadStub(): Registry {
  const require = createRequire(import.meta.url);
  // From dist/dev/ the stub sits in the source folder dev/; from dev/ itself it is beside us.
  const candidates = [
    join(devDir, 'functions-core-stub.cjs'),
    resolve(devDir, '../../dev/functions-core-stub.cjs'),
  ];
  const path = candidates.find((c) => existsSync(c));
  if (!path)
    throw new Error(`functions-core-stub.cjs not found (looked in ${candidates.join(', ')})`);
  return require(path) as Registry;
}

/** The files of package.json `main`: one file (dist/app/index.js, the bundle) or a glob (dist/functions/*.js). */
export function mainFiles(appRoot: string): string[] {
  const pkg = JSON.parse(readFileSync(join(appRoot, 'package.json'), 'utf8')) as { main?: string };
  const main = pkg.main ?? 'index.js';
  const star = main.lastIndexOf('*');
  if (star < 0) {
    const file = join(appRoot, main);
    if (!existsSync(file)) throw new Error(`${file} does not exist: run \`npm run build\` first`);
    return [file];
  }
  const dir = join(appRoot, dirname(main));
  const base = main.slice(main.lastIndexOf('/') + 1);
  const [prefix = '', suffix = ''] = base.split('*');
  if (!existsSync(dir)) throw new Error(`${dir} does not exist: run \`npm run build\` first`);
  return readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith(suffix))
    .sort()
    .map((f) => join(dir, f));
}

/** Compile an ASP.NET-style route template ({name}, {name?}, {name:int}, {*rest}) to a regex. */
export function compileRoute(template: string): {
  pattern: RegExp;
  paramNames: string[];
  precedence: number[];
} {
  const paramNames: string[] = [];
  const precedence: number[] = [];
  const parts = template.split('/').filter((p) => p !== '');
  let source = '';
  for (const part of parts) {
    const m = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?(\?)?\}$/.exec(part);
    if (!m) {
      source += `/${part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;
      precedence.push(0);
      continue;
    }
    const [, catchAll, name = '', constraint, optional] = m;
    paramNames.push(name);
    if (catchAll) {
      source += '(?:/(.*))?';
      precedence.push(3);
    } else {
      const value = constraint === 'int' ? '(-?\\d+)' : '([^/]+)';
      source += optional ? `(?:/${value})?` : `/${value}`;
      precedence.push(optional ? 2 : 1);
    }
  }
  return { pattern: new RegExp(`^${source}/?$`, 'i'), paramNames, precedence };
}

function comparePrecedence(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? -1;
    const y = b[i] ?? -1;
    if (x !== y) return x - y;
  }
  return 0;
}

/**
 * A route value as the Functions host hands it to a function: percent-decoded, except that an encoded
 * slash stays `%2F` (ASP.NET Core routing decodes path segments but never %2F). So `db%2Fprod` arrives
 * as `db%2Fprod`, and `web%20api` as `web api`.
 */
export function decodeRouteValue(raw: string): string {
  return raw
    .split(/(%2F)/i)
    .map((part, i) => (i % 2 === 1 ? part : decodeURIComponent(part)))
    .join('');
}

/** The real host's forwarder gives up on a streamed answer after this long without a byte (240 s). */
export const hostProxyActivityTimeoutMs = 240_000;

/** The real host buffers a request body up to this size before the function runs; larger ones get 413. */
export const hostMaxRequestBodyBytes = 100 * 1024 * 1024;

interface TimerStatus {
  last: string;
  next: string;
  lastUpdated: string;
}

/** Replace %SETTING% references, as the Functions host does for schedules. */
export function resolveSettingReferences(value: string, env: NodeJS.ProcessEnv): string {
  return value.replace(/%([^%]+)%/g, (_, name: string) => {
    const resolved = env[name];
    if (resolved === undefined || resolved === '') {
      throw new Error(`Schedule references %${name}%, but the app setting ${name} is not set`);
    }
    return resolved;
  });
}

export class FunctionHost {
  readonly http: HttpFunction[] = [];
  readonly timers: TimerFunction[] = [];
  readonly queues: QueueFunction[] = [];
  readonly listeners = new Map<string, StorageQueueListener>();
  private queuesOptions: QueuesOptions = defaultQueuesOptions;
  private unregisterProbes: (() => void)[] = [];
  readonly invocations: InvocationRecord[] = [];
  private server: Server | undefined;
  private crons: Cron[] = [];
  private running = new Map<string, Promise<unknown>>();
  private routePrefix = 'api';
  /** The library's HTTP proxy when the app enabled HTTP streaming (app.setup({ enableHttpStream })). */
  httpUri: string | undefined;
  private model: ProgrammingModelLike | undefined;
  private readonly log: (line: string) => void;
  private readonly env: NodeJS.ProcessEnv;
  url = '';

  constructor(private readonly options: FunctionHostOptions) {
    this.log = options.log ?? ((line) => console.log(line));
    this.env = options.env ?? process.env;
  }

  /** Load the compiled app and capture its registrations. */
  async load(): Promise<void> {
    const registry = loadStub();
    const hostJson = JSON.parse(readFileSync(join(this.options.appRoot, 'host.json'), 'utf8')) as {
      extensions?: { http?: { routePrefix?: string }; queues?: Record<string, unknown> };
    };
    this.routePrefix = (hostJson.extensions?.http?.routePrefix ?? 'api').replace(/^\/+|\/+$/g, '');
    this.queuesOptions = queuesOptionsFrom(hostJson.extensions?.queues);
    const before = registry.functions.length;
    for (const file of this.options.files ?? mainFiles(this.options.appRoot)) {
      await import(pathToFileURL(file).href);
    }
    this.model = registry.programmingModel;
    if (!this.model)
      throw new Error('The app registered no functions (no programming model was set)');
    for (const fn of registry.functions.slice(before)) this.add(fn);
    this.http.sort((a, b) => comparePrecedence(a.precedence, b.precedence));
    // As the worker does at start: this locks app.setup(), and with enableHttpStream the library
    // starts its HTTP proxy, to which the host then forwards each request as a stream.
    const capabilities = (await this.model.getCapabilities?.({})) ?? {};
    this.httpUri = capabilities.HttpUri;
  }

  private add(fn: CapturedFunction): void {
    const entry = Object.entries(fn.metadata.bindings).find(([, b]) => /trigger$/i.test(b.type));
    if (!entry) return;
    const [triggerName, trigger] = entry;
    if (trigger.type.toLowerCase() === 'httptrigger') {
      const route = (trigger.route ?? fn.metadata.name).replace(/^\/+/, '');
      const full = this.routePrefix ? `${this.routePrefix}/${route}` : route;
      this.http.push({
        name: fn.metadata.name,
        triggerName,
        route: `/${full}`,
        methods: (trigger.methods ?? ['GET', 'POST']).map((m) => m.toUpperCase()),
        authLevel: trigger.authLevel ?? 'anonymous',
        metadata: fn.metadata,
        callback: fn.callback,
        ...compileRoute(full),
      });
    } else if (trigger.type.toLowerCase() === 'queuetrigger') {
      this.queues.push({
        name: fn.metadata.name,
        triggerName,
        queueName: resolveSettingReferences(String(trigger.queueName ?? ''), this.env),
        connection: String(trigger.connection ?? 'AzureWebJobsStorage'),
        metadata: fn.metadata,
        callback: fn.callback,
      });
    } else if (trigger.type.toLowerCase() === 'timertrigger') {
      this.timers.push({
        name: fn.metadata.name,
        triggerName,
        schedule: resolveSettingReferences(String(trigger.schedule ?? ''), this.env),
        runOnStartup: trigger.runOnStartup === true,
        metadata: fn.metadata,
        callback: fn.callback,
      });
    }
  }

  /** Start serving HTTP and (unless disabled) firing timers. */
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log(`dev host: request failed: ${(err as Error).stack ?? String(err)}`);
        if (res.headersSent) {
          // The function failed after its answer began (a streamed body that broke off). The real
          // host's forwarder (YARP) gets no end of the body from the worker's proxy and gives up
          // after its activity timeout, aborting the caller's connection: the caller sees a
          // truncated answer, never a completed one.
          const abort = setTimeout(() => res.destroy(), hostProxyActivityTimeoutMs);
          abort.unref();
          res.once('close', () => clearTimeout(abort));
          return;
        }
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: { code: 'host_error', message: 'The dev host failed to run the function.' },
          }),
        );
      });
    });
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolveListen, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(this.options.port, host, () => resolveListen());
    });
    const address = this.server.address();
    const port = typeof address === 'object' && address ? address.port : this.options.port;
    this.url = `http://${host}:${port}`;
    if (this.options.timers !== false) this.scheduleTimers();
    if (this.options.queues !== false) await this.startQueueListeners();
  }

  /** One listener per queue-triggered function, on the storage its `connection` setting names. */
  private async startQueueListeners(): Promise<void> {
    if (this.queues.length === 0) return;
    const { QueueClient } = await import('@azure/storage-queue');
    for (const fn of this.queues) {
      const connectionString = this.env[fn.connection] ?? '';
      if (!/(^|;)\s*(QueueEndpoint=|UseDevelopmentStorage=true)/i.test(connectionString)) {
        this.log(
          `queue ${fn.name}: not listening: the ${fn.connection} setting names no queue service (QueueEndpoint=…); the real host would not start this function either`,
        );
        continue;
      }
      const queue = new QueueClient(connectionString, fn.queueName);
      const poisonName = `${fn.queueName}-poison`;
      const hasPoison = !fn.queueName.endsWith('-poison') && poisonName.length <= 63;
      const listener = new StorageQueueListener({
        queue,
        poisonQueue: hasPoison ? new QueueClient(connectionString, poisonName) : undefined,
        options: this.queuesOptions,
        invoke: (delivery) => this.invokeQueue(fn, delivery),
        log: this.log,
      });
      this.listeners.set(fn.name, listener);
      this.unregisterProbes.push(registerQueueProcessor(listener));
      listener.start();
    }
  }

  /** Run a queue-triggered function as the host does: the decoded text and the trigger metadata. */
  private async invokeQueue(fn: QueueFunction, delivery: QueueDeliveryInfo): Promise<void> {
    const triggerMetadata = {
      DequeueCount: { int: delivery.dequeueCount },
      Id: { string: delivery.id },
      PopReceipt: { string: delivery.popReceipt },
      InsertionTime: { string: delivery.insertionTime.toISOString() },
      ExpirationTime: { string: delivery.expirationTime.toISOString() },
      NextVisibleTime: { string: delivery.nextVisibleTime.toISOString() },
      QueueTrigger: { string: delivery.text },
    };
    await this.invoke(fn, { string: delivery.text }, 'queue', triggerMetadata);
  }

  private readStatuses(): Record<string, TimerStatus> {
    const file = this.options.timerStatusFile;
    if (!file || !existsSync(file)) return {};
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as Record<string, TimerStatus>;
    } catch {
      return {};
    }
  }

  private writeStatus(name: string, status: TimerStatus): void {
    const file = this.options.timerStatusFile;
    if (!file) return;
    const all = this.readStatuses();
    all[name] = status;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
  }

  private scheduleTimers(): void {
    const statuses = this.readStatuses();
    const now = new Date();
    for (const timer of this.timers) {
      const cron = new Cron(
        timer.schedule,
        { timezone: 'UTC', domAndDow: true, protect: true },
        () => {
          const scheduled = cron.currentRun() ?? new Date();
          void this.fireTimer(timer, scheduled, cron.nextRun() ?? undefined);
        },
      );
      this.crons.push(cron);
      // The host's rule (TimerListener.StartAsync): with a stored status whose Next has passed, one run
      // now with isPastDue true, however many occurrences were missed; otherwise runOnStartup, if set.
      // Scheduled occurrences are never past due, however late they start.
      const status = statuses[timer.name];
      const missed = status ? new Date(status.next) : undefined;
      if (missed && !Number.isNaN(missed.getTime()) && missed < now) {
        this.log(
          `timer ${timer.name}: missed ${missed.toISOString()} while stopped, running it now (past due)`,
        );
        void this.fireTimer(timer, now, cron.nextRun() ?? undefined, { isPastDue: true, status });
      } else if (timer.runOnStartup) {
        void this.fireTimer(timer, now, cron.nextRun() ?? undefined);
      } else if (!status) {
        const next = cron.nextRun();
        if (next)
          this.writeStatus(timer.name, {
            last: '',
            next: next.toISOString(),
            lastUpdated: now.toISOString(),
          });
      }
    }
  }

  /** Run a timer function now (as Azure's POST /admin/functions/{name} does), or on its schedule. */
  async fireTimer(
    timer: TimerFunction,
    scheduled = new Date(),
    next?: Date,
    options: { isPastDue?: boolean; status?: TimerStatus } = {},
  ): Promise<void> {
    // One invocation at a time per timer, as the host's listener does; an overlap is skipped.
    if (this.running.has(timer.name)) {
      this.log(`timer ${timer.name}: previous run still going, skipped this occurrence`);
      return;
    }
    const previous = options.status ?? this.readStatuses()[timer.name];
    const nextRun = next ?? new Date(Date.now() + 60_000);
    const payload = {
      Schedule: { AdjustForDST: true },
      ScheduleStatus: {
        Last: previous?.last || scheduled.toISOString(),
        Next: (previous?.next ? new Date(previous.next) : nextRun).toISOString(),
        LastUpdated: previous?.lastUpdated || new Date().toISOString(),
      },
      IsPastDue: options.isPastDue === true,
    };
    const run = this.invoke(timer, { json: JSON.stringify(payload) }, 'timer');
    this.running.set(timer.name, run);
    try {
      await run;
    } finally {
      this.running.delete(timer.name);
      // Written after the function completes, as the host's schedule monitor does.
      this.writeStatus(timer.name, {
        last: scheduled.toISOString(),
        next: nextRun.toISOString(),
        lastUpdated: new Date().toISOString(),
      });
    }
  }

  timer(name: string): TimerFunction | undefined {
    return this.timers.find((t) => t.name.toLowerCase() === name.toLowerCase());
  }

  private async invoke(
    fn: HttpFunction | TimerFunction | QueueFunction,
    data: unknown,
    kind: 'http' | 'timer' | 'queue',
    triggerMetadata: Record<string, unknown> = {},
    invocationId = randomUUID(),
  ): Promise<RpcHttpResult | undefined> {
    const model = this.model;
    if (!model) throw new Error('app not loaded');
    const started = Date.now();
    const coreCtx = {
      invocationId,
      metadata: fn.metadata,
      request: { inputData: [{ name: fn.triggerName, data }], triggerMetadata },
      log: (level: string, category: string, message: string) => {
        if (category === 'user' || level === 'error' || level === 'warning') {
          this.log(`[${fn.name}] ${level === 'information' ? '' : `${level}: `}${message}`);
        }
      },
      state: undefined,
    };
    let outcome = 'ok';
    try {
      const invocation = model.getInvocationModel(coreCtx);
      const { context, inputs } = await invocation.getArguments();
      const result = await invocation.invokeFunction(context, inputs, fn.callback);
      const response = await invocation.getResponse(context, result);
      const http = response.returnValue?.http;
      if (http?.statusCode) outcome = http.statusCode;
      return http;
    } catch (err) {
      outcome = 'failed';
      this.log(`[${fn.name}] failed: ${(err as Error).stack ?? String(err)}`);
      // The queue listener needs the failure (retries, poison); a failed timer run is only logged.
      if (kind !== 'timer') throw err;
      return undefined;
    } finally {
      const durationMs = Date.now() - started;
      this.invocations.push({
        name: fn.name,
        kind,
        startedAt: new Date(started),
        durationMs,
        outcome,
      });
      if (this.invocations.length > 500) this.invocations.shift();
      this.log(
        `${kind === 'http' ? 'HTTP ' : kind === 'queue' ? 'queue' : 'timer'} ${fn.name} -> ${outcome} (${durationMs} ms)`,
      );
    }
  }

  private checkKey(req: IncomingMessage, url: URL): boolean {
    const key = this.options.functionKey;
    if (!key) return true;
    return req.headers['x-functions-key'] === key || url.searchParams.get('code') === key;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const method = (req.method ?? 'GET').toUpperCase();

    // Azure's admin endpoint to run a non-HTTP function now.
    const admin = /^\/admin\/functions\/([^/]+)\/?$/i.exec(url.pathname);
    if (admin && method === 'POST') {
      const timer = this.timer(decodeURIComponent(admin[1] ?? ''));
      if (!timer)
        return sendJson(res, 404, {
          error: { code: 'not_found', message: 'No such timer function.' },
        });
      void this.fireTimer(timer);
      res.writeHead(202).end();
      return;
    }

    let pathMatched = false;
    for (const fn of this.http) {
      const m = fn.pattern.exec(url.pathname);
      if (!m) continue;
      pathMatched = true;
      if (!fn.methods.includes(method)) continue;
      if (fn.authLevel !== 'anonymous' && !this.checkKey(req, url)) {
        res.writeHead(401).end();
        return;
      }
      const params: Record<string, string> = {};
      try {
        fn.paramNames.forEach((name, i) => {
          const value = m[i + 1];
          if (value !== undefined) params[name] = decodeRouteValue(value);
        });
      } catch {
        return sendJson(res, 400, {
          error: { code: 'bad_request', message: 'The URL path is not valid percent-encoding.' },
        });
      }
      const declared = Number(req.headers['content-length'] ?? NaN);
      if (Number.isFinite(declared) && declared > hostMaxRequestBodyBytes) {
        req.resume();
        return sendJson(res, 413, {
          error: {
            code: 'payload_too_large',
            message: 'The host accepts request bodies up to 100 MB.',
          },
        });
      }
      if (this.httpUri) return this.handleStreamed(fn, req, res, url, method, params, this.httpUri);
      // As the real host hands a Node function without HTTP streaming: the body buffered up to
      // 100 MB, refused above that, and empty when it came chunked (no Content-Length).
      const chunked =
        !Number.isFinite(declared) &&
        /chunked/i.test(String(req.headers['transfer-encoding'] ?? ''));
      const read = await readBody(req);
      const body = chunked ? Buffer.alloc(0) : read;
      const headers = forwardedHeaders(req);
      const query = Object.fromEntries(url.searchParams);
      const result = await this.invoke(
        fn,
        { http: { method, url: url.toString(), headers, query, params, body: { bytes: body } } },
        'http',
      );
      const status = Number(result?.statusCode ?? 200);
      const outHeaders: Record<string, string | string[]> = { ...(result?.headers ?? {}) };
      if (result?.cookies?.length)
        outHeaders['set-cookie'] = result.cookies.map((c) => `${c.name}=${c.value}`);
      res.writeHead(status, outHeaders);
      // res.end takes bytes and strings as they are; copying them into a Buffer first is waste.
      const out = result?.body?.bytes ?? result?.body?.string;
      res.end(out);
      return;
    }
    if (pathMatched)
      return sendJson(res, 405, {
        error: { code: 'method_not_allowed', message: `${method} is not allowed here.` },
      });
    sendJson(res, 404, {
      error: { code: 'not_found', message: `No function serves ${url.pathname}.` },
    });
  }

  /**
   * With HTTP streaming, as the real host does: the request (body unread, as a stream) is forwarded
   * to the library's proxy tagged with the invocation id, the invocation carries the headers and
   * route values as trigger metadata, and the function's answer comes back through the proxy.
   * Nothing is buffered, so the function's own body limit is what stops an oversized body.
   */
  private async handleStreamed(
    fn: HttpFunction,
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    method: string,
    params: Record<string, string>,
    httpUri: string,
  ): Promise<void> {
    const invocationId = randomUUID();
    const headers = forwardedHeaders(req);
    const query = Object.fromEntries(url.searchParams);
    const triggerMetadata: Record<string, unknown> = {
      Headers: { json: JSON.stringify(headers) },
      Query: { json: JSON.stringify(query) },
    };
    for (const [name, value] of Object.entries(params)) triggerMetadata[name] = { string: value };
    const proxyReq = httpRequest(new URL(`${url.pathname}${url.search}`, httpUri), {
      method,
      headers: {
        ...req.headers,
        'x-forwarded-for': headers['x-forwarded-for'],
        'x-ms-invocation-id': invocationId,
        'x-forwarded-host': url.host,
        'x-forwarded-proto': url.protocol.replace(/:$/, ''),
      },
    });
    const answered = new Promise<void>((resolveAnswer, reject) => {
      proxyReq.on('response', (proxied) => {
        res.writeHead(proxied.statusCode ?? 500, proxied.headers);
        proxied.pipe(res);
        proxied.on('end', () => {
          // The function answered (perhaps without reading the body): let the rest of an upload
          // drain instead of being forwarded.
          req.unpipe(proxyReq);
          req.resume();
          resolveAnswer();
        });
        proxied.on('error', reject);
      });
      proxyReq.on('error', reject);
    });
    answered.catch(() => undefined);
    req.pipe(proxyReq);
    try {
      await this.invoke(
        fn,
        { http: { method, url: url.toString(), headers, query, params } },
        'http',
        triggerMetadata,
        invocationId,
      );
    } catch (err) {
      proxyReq.destroy();
      req.resume();
      throw err;
    }
    await answered;
  }

  async stop(): Promise<void> {
    for (const cron of this.crons) cron.stop();
    this.crons = [];
    for (const unregister of this.unregisterProbes) unregister();
    this.unregisterProbes = [];
    await Promise.all([...this.listeners.values()].map((l) => l.stop()));
    this.listeners.clear();
    await Promise.allSettled(this.running.values());
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((r) => server.close(() => r()));
    server.closeAllConnections();
    await closed;
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    // A webhook body usually arrives in one chunk: hand that on without copying it.
    req.on('end', () =>
      resolveBody(chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks)),
    );
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

/**
 * The request's headers as the worker receives them, with the caller's address:port appended to
 * X-Forwarded-For as Azure's front end does (buffered and streamed invocations alike).
 */
function forwardedHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const k in req.headers) {
    const v = req.headers[k];
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  const peer = req.socket.remoteAddress;
  if (peer) {
    const port = req.socket.remotePort ?? 0;
    const hop = peer.includes(':') ? `[${peer}]:${port}` : `${peer}:${port}`;
    headers['x-forwarded-for'] = headers['x-forwarded-for']
      ? `${headers['x-forwarded-for']}, ${hop}`
      : hop;
  }
  return headers;
}
