// Sends one Octopus request: auth header, timeout, retries for reads, call counting, error mapping.
import type { AxiosInstance, AxiosResponse, AxiosStatic } from 'axios';
import { inspect } from 'node:util';
import { RequestBudget } from './budget.js';
import { OctopusCallCounter } from './callCounter.js';
import { OctopusError } from './errors.js';
import { octopusUrl, serverBase } from './links.js';
import { pathWithoutQuery, redactSecrets } from '../redact.js';
import { selectJson, type JsonShape } from './selectJson.js';
import { isRetryableStatus, parseRetryAfter, retryDelay } from './retry.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type OctopusLog = (level: LogLevel, message: string) => void;
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';
export type QueryValue = string | number | boolean | Date | readonly string[] | null | undefined;

export interface HttpSettings {
  url: string;
  apiKey: string;
  timeoutMs: number;
  maxRetries: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** A `Retry-After` longer than this is not waited for; the error is thrown instead. */
  maxRetryAfterMs: number;
  /** After a create got no answer, how long to let the server finish it before checking. */
  createSettleMs: number;
  log: OctopusLog;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  /** The client's own budget (requests per minute); 0 = none. */
  maxRequestsPerMinute?: number;
  /** The budget's clock; default Date.now. */
  now?: () => number;
}

export interface RequestSpec {
  method: HttpMethod;
  /** Endpoint template used for counting, e.g. `/api/{spaceId}/deployments`. */
  endpoint: string;
  /** Path from the server root (`/api/...`) or a `Links` value: both go through octopusUrl. */
  path: string;
  /** Kept for callers; links and own paths are built the same way (octopusUrl). */
  fromLink?: boolean;
  query?: Record<string, QueryValue>;
  body?: unknown;
  /** Retry on retryable failures. Default: GET only; a POST opts in only when repeating it is harmless. */
  retry?: boolean;
  timeoutMs?: number;
  /** Keep only these fields of the JSON answer, read from its bytes (see selectJson). */
  select?: JsonShape;
}

export interface HttpResult {
  status: number;
  data: unknown;
}

/** Query string with array values as one comma-separated value, as Octopus expects (`ids=a,b`). */
export function buildQuery(query: Record<string, QueryValue> | undefined): string {
  if (!query) return '';
  const parts: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    let text: string;
    if (Array.isArray(value)) {
      if (value.length === 0) continue;
      text = value.map((v) => encodeURIComponent(v)).join(',');
    } else if (value instanceof Date) {
      text = encodeURIComponent(value.toISOString());
    } else {
      text = encodeURIComponent(String(value));
    }
    parts.push(`${encodeURIComponent(name)}=${text}`);
  }
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

function statusAdvice(status: number): string {
  if (status === 401)
    return 'Octopus did not accept the API key: check OCTOPUS_API_KEY (it may be wrong, expired or revoked).';
  if (status === 403)
    return "The API key's user lacks a permission this needs (reading events needs EventView): grant it to the user's team in Octopus.";
  if (status === 404)
    return 'Octopus has no such resource: check the id, the space, and that OCTOPUS_URL includes any virtual directory.';
  if (status === 400 || status === 409)
    return 'Octopus refused the request as invalid: see the listed problems.';
  if (status === 429)
    return 'Octopus is rate limiting this API key: wait and try again, or poll less often.';
  if (status >= 500)
    return 'Octopus (or a proxy in front of it) had a server-side problem: try again later; check the Octopus server log if it persists.';
  return 'Check the request and the Octopus server.';
}

function parseErrorBody(data: unknown): { errorMessage?: string; errors: string[] } {
  let body = data;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return { errors: [] };
    }
  }
  if (typeof body !== 'object' || body === null) return { errors: [] };
  const record = body as Record<string, unknown>;
  const errorMessage = typeof record.ErrorMessage === 'string' ? record.ErrorMessage : undefined;
  const errors = Array.isArray(record.Errors)
    ? record.Errors.filter((e): e is string => typeof e === 'string')
    : [];
  return { errorMessage, errors };
}

/** The Octopus transport. Holds the API key privately; inspecting or serializing it shows no key. */
export class OctopusHttp {
  readonly calls = new OctopusCallCounter();
  readonly #settings: HttpSettings;
  /** Made at the first request: axios is about 70 modules, and most processes never call Octopus first thing. */
  #axios: Promise<{ axios: AxiosStatic; instance: AxiosInstance }> | undefined;
  readonly #origin: string;
  readonly #budget: RequestBudget;
  /** Requests that waited for the budget, and how long in total (for logs and benches). */
  readonly budgetWaits = { requests: 0, ms: 0 };

  constructor(settings: HttpSettings) {
    this.#settings = { ...settings, url: serverBase(settings.url) };
    this.#origin = new URL(this.#settings.url).origin;
    this.#budget = new RequestBudget(
      settings.maxRequestsPerMinute ?? 0,
      settings.sleep,
      settings.now ?? Date.now,
    );
  }

  #transport(): Promise<{ axios: AxiosStatic; instance: AxiosInstance }> {
    this.#axios ??= import('axios').then(({ default: axios }) => ({
      axios,
      instance: axios.create({
        validateStatus: () => true,
        maxRedirects: 3,
        // A redirect to another origin (or from https to http) must not take the API key with it.
        sensitiveHeaders: ['X-Octopus-ApiKey'],
      }),
    }));
    this.#axios.catch(() => {
      this.#axios = undefined;
    });
    return this.#axios;
  }

  get serverOrigin(): string {
    return this.#origin;
  }

  get createSettleMs(): number {
    return this.#settings.createSettleMs;
  }

  get maxRetries(): number {
    return this.#settings.maxRetries;
  }

  /** The wait before retry number `attempt + 1`: `Retry-After` when given, else jittered backoff. */
  retryDelay(attempt: number, retryAfterMs: number | undefined): number {
    const s = this.#settings;
    return retryDelay(attempt, retryAfterMs, {
      baseMs: s.retryBaseMs,
      maxMs: s.retryMaxMs,
      random: s.random,
    });
  }

  /** True when a `Retry-After` asks for longer than we are willing to wait. */
  waitTooLong(retryAfterMs: number | undefined): boolean {
    return retryAfterMs !== undefined && retryAfterMs > this.#settings.maxRetryAfterMs;
  }

  sleep(ms: number): Promise<void> {
    return this.#settings.sleep(ms);
  }

  /** Sends the request, retrying when the spec allows and the failure is retryable. */
  async request(spec: RequestSpec): Promise<HttpResult> {
    const s = this.#settings;
    const canRetry = spec.retry ?? spec.method === 'GET';
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(spec);
      } catch (error) {
        if (!(error instanceof OctopusError)) throw error;
        const last = !canRetry || !error.retryable || attempt >= s.maxRetries;
        if (last || this.waitTooLong(error.retryAfterMs)) {
          throw attempt === 0 ? error : gaveUp(error, attempt + 1);
        }
        const delay = this.retryDelay(attempt, error.retryAfterMs);
        this.log(
          'warn',
          `Octopus ${spec.method} ${error.path} failed (${error.status ?? error.code}); retrying in ${delay} ms (attempt ${attempt + 2} of ${s.maxRetries + 1}).`,
        );
        await s.sleep(delay);
      }
    }
  }

  /** One HTTP request, counted; never retried. Throws OctopusError for anything but a 2xx JSON answer. */
  async once(spec: RequestSpec): Promise<HttpResult> {
    const s = this.#settings;
    const base = octopusUrl(s.url, spec.path);
    const url = `${base}${buildQuery(spec.query)}`;
    const path = pathWithoutQuery(spec.path);
    const timeoutMs = spec.timeoutMs ?? s.timeoutMs;
    const waited = await this.#budget.take();
    if (waited > 0) {
      this.budgetWaits.requests += 1;
      this.budgetWaits.ms += waited;
      if (this.budgetWaits.requests === 1 || this.budgetWaits.requests % 100 === 0)
        this.log(
          'info',
          `Octopus request budget (${s.maxRequestsPerMinute ?? 0}/min, OCTOPUS_MAX_REQUESTS_PER_MINUTE) reached: requests are spread out (${this.budgetWaits.requests} waited so far).`,
        );
    }
    const { axios, instance } = await this.#transport();
    this.calls.record(`${spec.method} ${spec.endpoint}`);

    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    let response: AxiosResponse<string | Buffer>;
    const started = Date.now();
    try {
      response = await instance.request<string | Buffer>({
        method: spec.method,
        url,
        data: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        headers: {
          'X-Octopus-ApiKey': s.apiKey,
          Accept: 'application/json',
          ...(spec.body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        signal: controller.signal,
        responseType: spec.select ? 'arraybuffer' : 'text',
        transformResponse: [(data: unknown) => data],
      });
    } catch (error) {
      // Never rethrow the axios error: it carries the request headers, API key included.
      const code = axios.isAxiosError(error) ? (error.code ?? 'unknown') : 'unknown';
      if (timedOut) {
        throw new OctopusError({
          code: 'Timeout',
          method: spec.method,
          path,
          retryable: true,
          message: `Octopus did not answer ${spec.method} ${path} within ${Math.round(timeoutMs / 1000)} s. Check that ${this.#origin} is reachable from here and the server is healthy; for a slow server raise the timeout.`,
        });
      }
      throw new OctopusError({
        code: 'NetworkError',
        method: spec.method,
        path,
        retryable: true,
        message: `Could not reach Octopus at ${this.#origin} for ${spec.method} ${path} (${code}). Check OCTOPUS_URL and the network path to the server.`,
      });
    } finally {
      clearTimeout(timer);
    }
    this.log(
      'debug',
      `Octopus ${spec.method} ${path} -> ${response.status} in ${Date.now() - started} ms`,
    );

    if (response.status < 200 || response.status >= 300) {
      const { errorMessage, errors } = parseErrorBody(
        Buffer.isBuffer(response.data) ? response.data.toString('utf8') : response.data,
      );
      const retryAfterMs = parseRetryAfter(headerText(response.headers['retry-after']));
      const said = [errorMessage, ...errors].filter((t) => t !== undefined && t !== '').join(' ');
      throw new OctopusError({
        code: 'HttpError',
        status: response.status,
        method: spec.method,
        path,
        errorMessage,
        errors,
        retryable: isRetryableStatus(response.status),
        retryAfterMs,
        message: `Octopus answered ${response.status} to ${spec.method} ${path}${said ? `: ${said}` : '.'} ${statusAdvice(response.status)}`,
      });
    }

    const body = response.data;
    try {
      if (Buffer.isBuffer(body)) {
        if (body.every(isSpaceByte)) return { status: response.status, data: undefined };
        return { status: response.status, data: selectJson(body, spec.select ?? {}) };
      }
      const text = typeof body === 'string' ? body : '';
      if (text.trim() === '') return { status: response.status, data: undefined };
      return { status: response.status, data: JSON.parse(text) as unknown };
    } catch {
      throw new OctopusError({
        code: 'InvalidResponse',
        status: response.status,
        method: spec.method,
        path,
        message: `Octopus answered ${spec.method} ${path} with something that is not JSON (${headerText(response.headers['content-type']) ?? 'no content type'}). OCTOPUS_URL may point at a login page or proxy instead of the Octopus server.`,
      });
    }
  }

  log(level: LogLevel, message: string): void {
    try {
      this.#settings.log(level, redactSecrets(message, [this.#settings.apiKey]));
    } catch {
      // A failing logger must not fail the Octopus call.
    }
  }

  toJSON(): Record<string, unknown> {
    return {
      url: this.#settings.url,
      timeoutMs: this.#settings.timeoutMs,
      calls: this.calls.total,
    };
  }

  [inspect.custom](): string {
    return `OctopusHttp ${inspect(this.toJSON())}`;
  }
}

function isSpaceByte(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function headerText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

export function gaveUp(error: OctopusError, attempts: number): OctopusError {
  return new OctopusError({
    code: error.code,
    status: error.status,
    method: error.method,
    path: error.path,
    errorMessage: error.errorMessage,
    errors: error.errors,
    retryable: error.retryable,
    retryAfterMs: error.retryAfterMs,
    message: `${error.message} (Gave up after ${attempts} attempts.)`,
  });
}
