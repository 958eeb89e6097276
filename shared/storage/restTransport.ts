// What the REST senders of the webhook's path share (queueRest.ts, tableRest.ts): connection strings
// read as the Azure SDKs read them, and one @azure/core-rest-pipeline pipeline per client with the
// SDKs' retries (3 tries: 408, 5xx but 501/505, 429/503 with Retry-After, network errors), a
// signing policy run on every try (after the retry policy), or an Entra token for
// https://storage.azure.com/ (managed identity), and a per-try request counter.
import type {
  BearerTokenAuthenticationPolicyOptions,
  HttpClient,
  Pipeline,
  PipelinePolicy,
  PipelineRequest,
} from '@azure/core-rest-pipeline';

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

export interface TransportOptions {
  /** Called once per HTTP try (the round-trip counters). */
  onRequest?: (request: PipelineRequest) => void;
  /** First retry delay (the pipeline's default, 1 s, unless given; tests). */
  retryDelayMs?: number;
}

export interface TransportResponse {
  status: number;
  /** x-ms-error-code */
  code: string | undefined;
  header(name: string): string | undefined;
  bodyText: string | undefined;
}

/** One pipeline for one endpoint: `send` a request with the given headers (the version included). */
export class StorageTransport {
  private constructor(
    readonly endpoint: StorageEndpoint,
    private readonly pipeline: Pipeline,
    private readonly http: HttpClient,
    private readonly createRequest: (
      url: string,
      method: string,
      headers: Record<string, string>,
    ) => PipelineRequest,
  ) {}

  static async create(
    endpoint: StorageEndpoint,
    sign: (accountName: string, accountKey: string) => PipelinePolicy,
    options: TransportOptions = {},
  ): Promise<StorageTransport> {
    const {
      bearerTokenAuthenticationPolicy,
      createDefaultHttpClient,
      createHttpHeaders,
      createPipelineFromOptions,
      createPipelineRequest,
    } = await import('@azure/core-rest-pipeline');
    const pipeline = createPipelineFromOptions({
      retryOptions: {
        maxRetries: 2,
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
    if (auth.kind === 'sharedKey')
      pipeline.addPolicy(sign(auth.accountName, auth.accountKey), { phase: 'Sign' });
    else if (auth.kind === 'token')
      pipeline.addPolicy(
        bearerTokenAuthenticationPolicy({
          credential: auth.credential,
          scopes: 'https://storage.azure.com/.default',
        }),
        { phase: 'Sign' },
      );
    const insecure = endpoint.url.startsWith('http:');
    return new StorageTransport(
      endpoint,
      pipeline,
      createDefaultHttpClient(),
      (url, method, headers) =>
        createPipelineRequest({
          url: auth.kind === 'sas' ? `${url}${url.includes('?') ? '&' : '?'}${auth.sas}` : url,
          method: method as PipelineRequest['method'],
          headers: createHttpHeaders(headers),
          allowInsecureConnection: insecure,
        }),
    );
  }

  async send(
    method: 'GET' | 'POST' | 'PUT',
    url: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<TransportResponse> {
    const outgoing = this.createRequest(url, method, headers);
    if (body !== undefined) {
      outgoing.body = body;
      outgoing.headers.set('content-length', String(Buffer.byteLength(body)));
    }
    const response = await this.pipeline.sendRequest(this.http, outgoing);
    return {
      status: response.status,
      code: response.headers.get('x-ms-error-code'),
      header: (name) => response.headers.get(name),
      bodyText: response.bodyAsText ?? undefined,
    };
  }
}
