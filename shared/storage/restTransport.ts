// What the REST senders of the webhook's path share (queueRest.ts, tableRest.ts): connection strings
// read as the Azure SDKs read them, and one transport per client with the SDKs' retries (3 tries:
// 408, 5xx but 501/505, 429/503 with Retry-After, network errors), signing run on every try (after
// the retry decision), or an Entra token for https://storage.azure.com/ (managed identity), and a
// per-try request counter. Shared Key and SAS requests go over node:http(s) with those retries
// written out here (loading @azure/core-rest-pipeline costs a cold start ~80 ms of CPU); an Entra
// token (@azure/identity loads the pipeline anyway) or a proxy set in the environment (the pipeline's
// proxy policy honours HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY) use an @azure/core-rest-pipeline
// pipeline with the same retries.
import type { BearerTokenAuthenticationPolicyOptions } from '@azure/core-rest-pipeline';
import { randomUUID } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';

/** An Entra credential (@azure/identity's credentials are these). */
export type TokenCredential = NonNullable<BearerTokenAuthenticationPolicyOptions['credential']>;

export type StorageAuth =
  | { kind: 'sharedKey'; accountName: string; accountKey: string }
  | { kind: 'sas'; sas: string }
  | { kind: 'token'; credential: TokenCredential };

export interface StorageEndpoint {
  /** The service's URL without a trailing slash (Azurite's includes the account: /devstoreaccount1). */
  url: string;
  auth: StorageAuth;
}

/** Azurite's well-known development account (public, documented; not a secret). */
const devAccount = {
  name: 'devstoreaccount1',
  key: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
};
const devPorts = { blob: 10000, queue: 10001, table: 10002 };

/**
 * A service's endpoint and credentials from a connection string, as the SDKs read it:
 * `UseDevelopmentStorage=true`; AccountName and AccountKey with the service's endpoint (QueueEndpoint,
 * TableEndpoint) or the endpoint derived from DefaultEndpointsProtocol and EndpointSuffix; or the
 * endpoint with SharedAccessSignature.
 */
export function storageEndpointFromConnectionString(
  connectionString: string,
  service: 'queue' | 'table',
): StorageEndpoint {
  const parts = new Map<string, string>();
  for (const part of connectionString.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) parts.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  if (parts.get('usedevelopmentstorage')?.toLowerCase() === 'true') {
    const proxy = parts.get('developmentstorageproxyuri');
    const host = proxy ? proxy.replace(/\/+$/, '') : 'http://127.0.0.1';
    return {
      url: `${host}:${devPorts[service]}/${devAccount.name}`,
      auth: { kind: 'sharedKey', accountName: devAccount.name, accountKey: devAccount.key },
    };
  }
  const sas = parts.get('sharedaccesssignature');
  const accountName = parts.get('accountname');
  const accountKey = parts.get('accountkey');
  let url = parts.get(`${service}endpoint`);
  if (!url && accountName) {
    const protocol = (parts.get('defaultendpointsprotocol') ?? 'https').toLowerCase();
    const suffix = parts.get('endpointsuffix') ?? 'core.windows.net';
    url = `${protocol}://${accountName}.${service}.${suffix}`;
  }
  if (!url) throw new Error(`The storage connection string names no ${service} endpoint`);
  url = url.replace(/\/+$/, '');
  if (accountName && accountKey)
    return { url, auth: { kind: 'sharedKey', accountName, accountKey } };
  if (sas) return { url, auth: { kind: 'sas', sas: sas.replace(/^\?/, '') } };
  throw new Error(
    'The storage connection string has neither AccountName and AccountKey nor SharedAccessSignature',
  );
}

/** A failed storage request: `statusCode` and `code` (x-ms-error-code) as the SDKs' RestError has them. */
export class StorageRequestError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string | undefined,
    operation: string,
    detail?: string,
  ) {
    super(
      `${operation} failed: ${statusCode}${code ? ` ${code}` : ''}${detail ? `: ${detail}` : ''}`,
    );
    this.name = 'StorageRequestError';
  }
}

/** A request as the signers see it, on every try (a pipeline's request has this shape too). */
export interface SignableRequest {
  method: string;
  url: string;
  headers: {
    get(name: string): string | undefined;
    set(name: string, value: string): void;
    [Symbol.iterator](): Iterator<[string, string]>;
  };
}

/** Signs one try of a request in place (Shared Key, Shared Key Lite). */
export type Signer = (request: SignableRequest) => void;

export interface TransportOptions {
  /** Called once per HTTP try (the round-trip counters). */
  onRequest?: (request: { method: string; url: string }) => void;
  /** First retry delay (the pipeline's default, 1 s, unless given; tests). */
  retryDelayMs?: number;
  /** Use @azure/core-rest-pipeline even where node:http(s) would do (tests compare the two). */
  pipeline?: boolean;
}

export interface TransportResponse {
  status: number;
  /** x-ms-error-code */
  code: string | undefined;
  header(name: string): string | undefined;
  bodyText: string | undefined;
}

type Send = (
  method: 'GET' | 'POST' | 'PUT',
  url: string,
  headers: Record<string, string>,
  body?: string,
) => Promise<TransportResponse>;

/** Tries in all (the first and two retries), as the storage SDKs configure their pipelines here. */
const maxRetries = 2;
/** The pipeline's exponential retry: first delay and cap. */
const defaultRetryDelayMs = 1000;
const maxRetryDelayMs = 64_000;

/** A proxy the pipeline's proxy policy would use (its variables, upper or lower case). */
function proxyConfigured(env: NodeJS.ProcessEnv): boolean {
  return ['HTTPS_PROXY', 'HTTP_PROXY', 'ALL_PROXY'].some(
    (name) => (env[name] ?? env[name.toLowerCase()] ?? '') !== '',
  );
}

/** One transport for one endpoint: `send` a request with the given headers (the version included). */
export class StorageTransport {
  private constructor(
    readonly endpoint: StorageEndpoint,
    /** Which HTTP stack carries the requests (tests, benches). */
    readonly kind: 'node' | 'pipeline',
    private readonly sender: Send,
  ) {}

  static async create(
    endpoint: StorageEndpoint,
    sign: (accountName: string, accountKey: string) => Signer,
    options: TransportOptions = {},
  ): Promise<StorageTransport> {
    const auth = endpoint.auth;
    const signer = auth.kind === 'sharedKey' ? sign(auth.accountName, auth.accountKey) : undefined;
    if (auth.kind !== 'token' && !options.pipeline && !proxyConfigured(process.env))
      return new StorageTransport(endpoint, 'node', nodeSender(endpoint, signer, options));
    return new StorageTransport(
      endpoint,
      'pipeline',
      await pipelineSender(endpoint, signer, options),
    );
  }

  send(
    method: 'GET' | 'POST' | 'PUT',
    url: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<TransportResponse> {
    return this.sender(method, url, headers, body);
  }
}

function withSas(endpoint: StorageEndpoint, url: string): string {
  const auth = endpoint.auth;
  return auth.kind === 'sas' ? `${url}${url.includes('?') ? '&' : '?'}${auth.sas}` : url;
}

/** A network failure the pipeline retries (its exponential strategy's list). */
function isSystemError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return (
    code === 'ETIMEDOUT' ||
    code === 'ESOCKETTIMEDOUT' ||
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'ENOENT' ||
    code === 'ENOTFOUND'
  );
}

/** The pipeline's throttling strategy: 429 or 503 with retry-after-ms, x-ms-retry-after-ms or Retry-After. */
function throttlingDelayMs(response: TransportResponse): number | undefined {
  if (response.status !== 429 && response.status !== 503) return undefined;
  for (const [name, factor] of [
    ['retry-after-ms', 1],
    ['x-ms-retry-after-ms', 1],
    ['retry-after', 1000],
  ] as const) {
    const value = response.header(name);
    if (!value) continue;
    const n = Number(value);
    if (!Number.isNaN(n)) return n * factor;
  }
  const text = response.header('retry-after');
  if (!text) return undefined;
  const diff = Date.parse(text) - Date.now();
  return Number.isFinite(diff) ? Math.max(0, diff) : undefined;
}

/** The pipeline's exponential delay with jitter: half the delay plus a random part of the other half. */
function exponentialDelayMs(retryCount: number, firstDelayMs: number): number {
  const clamped = Math.min(maxRetryDelayMs, firstDelayMs * 2 ** retryCount);
  // The pipeline's getRandomIntegerInclusive(0, clamped / 2).
  return clamped / 2 + Math.floor(Math.random() * (Math.floor(clamped / 2) + 1));
}

/**
 * How long to wait before the next try, or undefined to stop there (the pipeline's retry policy with
 * its two strategies, throttling first): a throttling answer waits what it says; 408 and 5xx but 501
 * and 505, and the network errors of isSystemError, back off exponentially; anything else is final.
 */
export function retryDelayMs(
  retryCount: number,
  outcome: { response: TransportResponse } | { error: unknown },
  firstDelayMs: number = defaultRetryDelayMs,
): number | undefined {
  if ('error' in outcome)
    return isSystemError(outcome.error) ? exponentialDelayMs(retryCount, firstDelayMs) : undefined;
  const throttled = throttlingDelayMs(outcome.response);
  if (throttled !== undefined && Number.isFinite(throttled)) return throttled;
  const status = outcome.response.status;
  if ((status >= 500 || status === 408) && status !== 501 && status !== 505)
    return exponentialDelayMs(retryCount, firstDelayMs);
  return undefined;
}

const agents = {
  http: new HttpAgent({ keepAlive: true }),
  https: new HttpsAgent({ keepAlive: true }),
};

/** Header names are case-insensitive: kept lower case, in the order first set. */
class RequestHeaders {
  private readonly map = new Map<string, [string, string]>();
  constructor(initial: Record<string, string>) {
    for (const [name, value] of Object.entries(initial)) this.set(name, value);
  }
  get(name: string): string | undefined {
    return this.map.get(name.toLowerCase())?.[1];
  }
  set(name: string, value: string): void {
    this.map.set(name.toLowerCase(), [name, value]);
  }
  *[Symbol.iterator](): Iterator<[string, string]> {
    for (const [name, [, value]] of this.map) yield [name, value];
  }
  toObject(): Record<string, string> {
    return Object.fromEntries([...this.map.values()]);
  }
}

function once(
  method: string,
  url: string,
  headers: Record<string, string>,
  body: string | undefined,
): Promise<TransportResponse> {
  return new Promise((resolve, reject) => {
    const secure = url.startsWith('https:');
    const send = secure ? httpsRequest : httpRequest;
    const req = send(
      url,
      { method, headers, agent: secure ? agents.https : agents.http },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('aborted', () =>
          reject(Object.assign(new Error('The response was aborted'), { code: 'ECONNRESET' })),
        );
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const header = (name: string): string | undefined => {
            const value = res.headers[name.toLowerCase()];
            return Array.isArray(value) ? value.join(', ') : value;
          };
          resolve({
            status: res.statusCode ?? 0,
            code: header('x-ms-error-code'),
            header,
            bodyText: text,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** node:http(s) with the pipeline's retries; Shared Key signed on every try, or a SAS in the URL. */
function nodeSender(
  endpoint: StorageEndpoint,
  signer: Signer | undefined,
  options: TransportOptions,
): Send {
  const firstDelayMs = options.retryDelayMs ?? defaultRetryDelayMs;
  const userAgent = `octopus-coordinator-storage Node/${process.version} OS/(${process.arch}-${process.platform})`;
  return async (method, path, headers, body) => {
    const url = withSas(endpoint, path);
    // One id for all tries, as the pipeline's client request id policy does.
    const clientRequestId = randomUUID();
    for (let retryCount = 0; ; retryCount++) {
      const request = { method, url, headers: new RequestHeaders(headers) };
      request.headers.set('user-agent', userAgent);
      request.headers.set('x-ms-client-request-id', clientRequestId);
      if (body !== undefined)
        request.headers.set('content-length', String(Buffer.byteLength(body)));
      options.onRequest?.({ method, url });
      signer?.(request);
      let outcome: { response: TransportResponse } | { error: unknown };
      try {
        outcome = { response: await once(method, url, request.headers.toObject(), body) };
      } catch (error) {
        outcome = { error };
      }
      const delay =
        retryCount < maxRetries ? retryDelayMs(retryCount, outcome, firstDelayMs) : undefined;
      if (delay === undefined) {
        if ('error' in outcome) throw outcome.error;
        return outcome.response;
      }
      await sleep(Math.max(0, delay));
    }
  };
}

async function pipelineSender(
  endpoint: StorageEndpoint,
  signer: Signer | undefined,
  options: TransportOptions,
): Promise<Send> {
  const {
    bearerTokenAuthenticationPolicy,
    createDefaultHttpClient,
    createHttpHeaders,
    createPipelineFromOptions,
    createPipelineRequest,
  } = await import('@azure/core-rest-pipeline');
  const pipeline = createPipelineFromOptions({
    retryOptions: {
      maxRetries,
      ...(options.retryDelayMs !== undefined ? { retryDelayInMs: options.retryDelayMs } : {}),
    },
  });
  const { onRequest } = options;
  if (onRequest)
    pipeline.addPolicy(
      {
        name: 'coordinatorStorageRoundTripCounter',
        sendRequest(request, next) {
          onRequest(request);
          return next(request);
        },
      },
      { afterPhase: 'Retry' },
    );
  const auth = endpoint.auth;
  if (signer)
    pipeline.addPolicy(
      {
        name: 'coordinatorStorageSharedKey',
        sendRequest(request, next) {
          // Signed on every try: the date is part of the signature.
          signer(request);
          return next(request);
        },
      },
      { phase: 'Sign' },
    );
  else if (auth.kind === 'token')
    pipeline.addPolicy(
      bearerTokenAuthenticationPolicy({
        credential: auth.credential,
        scopes: 'https://storage.azure.com/.default',
      }),
      { phase: 'Sign' },
    );
  const http = createDefaultHttpClient();
  const insecure = endpoint.url.startsWith('http:');
  return async (method, url, headers, body) => {
    const outgoing = createPipelineRequest({
      url: withSas(endpoint, url),
      method,
      headers: createHttpHeaders(headers),
      allowInsecureConnection: insecure,
    });
    if (body !== undefined) {
      outgoing.body = body;
      outgoing.headers.set('content-length', String(Buffer.byteLength(body)));
    }
    const response = await pipeline.sendRequest(http, outgoing);
    return {
      status: response.status,
      code: response.headers.get('x-ms-error-code'),
      header: (name) => response.headers.get(name),
      bodyText: response.bodyAsText ?? undefined,
    };
  };
}
