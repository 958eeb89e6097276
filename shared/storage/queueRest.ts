// Sending to Storage queues over the REST API with @azure/core-rest-pipeline, which the Table SDK has
// already loaded when the webhook sends (it stores the event first). The webhook's only queue
// operation is Put Message; @azure/storage-queue (about 40 ms of CPU to load, as much again with its
// storage-common and XML dependencies) would be loaded for that one call on every cold start.
// Auth as the SDK does it: Shared Key from a connection string (signed per try, after the retry
// policy), a SAS from a connection string, or an Entra token (managed identity) for
// https://storage.azure.com/. Retries: the pipeline's default policy (3 tries: 408, 5xx but 501/505,
// 429/503 with Retry-After, network errors), as the Table clients.
// https://learn.microsoft.com/rest/api/storageservices/put-message
// https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key
import { createHmac } from 'node:crypto';
import type {
  BearerTokenAuthenticationPolicyOptions,
  HttpClient,
  Pipeline,
  PipelinePolicy,
  PipelineRequest,
} from '@azure/core-rest-pipeline';

/** An Entra credential (@azure/identity's credentials are these). */
export type TokenCredential = NonNullable<BearerTokenAuthenticationPolicyOptions['credential']>;

/** The REST API version sent (the one @azure/storage-queue 12.30 sends). */
export const queueServiceVersion = '2026-04-06';

/** Azurite's well-known development account (public, documented; not a secret). */
const devAccount = {
  name: 'devstoreaccount1',
  key: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
};

export type QueueAuth =
  | { kind: 'sharedKey'; accountName: string; accountKey: string }
  | { kind: 'sas'; sas: string }
  | { kind: 'token'; credential: TokenCredential };

export interface QueueEndpoint {
  /** The queue service's URL without a trailing slash (Azurite's includes the account: /devstoreaccount1). */
  url: string;
  auth: QueueAuth;
}

/**
 * The queue endpoint and credentials of a connection string, as @azure/storage-queue reads it:
 * `UseDevelopmentStorage=true`; AccountName and AccountKey with QueueEndpoint or the endpoint derived
 * from DefaultEndpointsProtocol and EndpointSuffix; or QueueEndpoint with SharedAccessSignature.
 */
export function queueEndpointFromConnectionString(connectionString: string): QueueEndpoint {
  const parts = new Map<string, string>();
  for (const part of connectionString.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) parts.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  if (parts.get('usedevelopmentstorage')?.toLowerCase() === 'true') {
    const proxy = parts.get('developmentstorageproxyuri');
    const host = proxy ? proxy.replace(/\/+$/, '') : 'http://127.0.0.1';
    return {
      url: `${host}:10001/${devAccount.name}`,
      auth: { kind: 'sharedKey', accountName: devAccount.name, accountKey: devAccount.key },
    };
  }
  const sas = parts.get('sharedaccesssignature');
  const accountName = parts.get('accountname');
  const accountKey = parts.get('accountkey');
  let url = parts.get('queueendpoint');
  if (!url && accountName) {
    const protocol = (parts.get('defaultendpointsprotocol') ?? 'https').toLowerCase();
    const suffix = parts.get('endpointsuffix') ?? 'core.windows.net';
    url = `${protocol}://${accountName}.queue.${suffix}`;
  }
  if (!url) throw new Error('The storage connection string names no queue endpoint');
  url = url.replace(/\/+$/, '');
  if (accountName && accountKey)
    return { url, auth: { kind: 'sharedKey', accountName, accountKey } };
  if (sas) return { url, auth: { kind: 'sas', sas: sas.replace(/^\?/, '') } };
  throw new Error(
    'The storage connection string has neither AccountName and AccountKey nor SharedAccessSignature',
  );
}

/** The Shared Key signature's string to sign for a request (Blob, Queue and File services). */
export function sharedKeyStringToSign(
  accountName: string,
  method: string,
  url: string,
  headers: Iterable<[string, string]> & { get(name: string): string | undefined },
): string {
  const header = (name: string): string => headers.get(name) ?? '';
  // Since version 2015-02-21 a zero Content-Length is signed as empty.
  const contentLength = header('content-length') === '0' ? '' : header('content-length');
  const standard = [
    method.toUpperCase(),
    header('content-encoding'),
    header('content-language'),
    contentLength,
    header('content-md5'),
    header('content-type'),
    header('date'),
    header('if-modified-since'),
    header('if-match'),
    header('if-none-match'),
    header('if-unmodified-since'),
    header('range'),
  ].join('\n');
  const msHeaders = new Map<string, string>();
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower.startsWith('x-ms-') && !msHeaders.has(lower))
      msHeaders.set(lower, value.replace(/\s+/g, ' ').trim());
  }
  const canonicalHeaders = [...msHeaders.keys()]
    .sort()
    .map((name) => `${name}:${msHeaders.get(name) ?? ''}\n`)
    .join('');
  const parsed = new URL(url);
  let resource = `/${accountName}${parsed.pathname || '/'}`;
  const params = new Map<string, string[]>();
  for (const [name, value] of parsed.searchParams) {
    const lower = name.toLowerCase();
    params.set(lower, [...(params.get(lower) ?? []), value]);
  }
  for (const name of [...params.keys()].sort())
    resource += `\n${name}:${(params.get(name) ?? []).sort().join(',')}`;
  return `${standard}\n${canonicalHeaders}${resource}`;
}

function sharedKeyPolicy(accountName: string, accountKey: string): PipelinePolicy {
  const key = Buffer.from(accountKey, 'base64');
  return {
    name: 'coordinatorQueueSharedKey',
    sendRequest(request, next) {
      // Signed on every try: the date is part of the signature.
      request.headers.set('x-ms-date', new Date().toUTCString());
      const toSign = sharedKeyStringToSign(accountName, request.method, request.url, {
        get: (name) => request.headers.get(name),
        [Symbol.iterator]: () => request.headers[Symbol.iterator](),
      });
      const signature = createHmac('sha256', key).update(toSign, 'utf8').digest('base64');
      request.headers.set('authorization', `SharedKey ${accountName}:${signature}`);
      return next(request);
    },
  };
}

/** A failed queue request: `statusCode` and `code` (x-ms-error-code) as the SDK's RestError has them. */
export class QueueRequestError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string | undefined,
    operation: string,
  ) {
    super(`${operation} failed: ${statusCode}${code ? ` ${code}` : ''}`);
    this.name = 'QueueRequestError';
  }
}

export interface QueueSenderOptions {
  /** Called once per HTTP try (the round-trip counter). */
  onRequest?: (request: PipelineRequest) => void;
  /** First retry delay (the pipeline's default, 1 s, unless given; tests). */
  retryDelayMs?: number;
}

/** Put Message and Create Queue, the two operations the coordinator needs. */
export class QueueSender {
  private constructor(
    private readonly endpoint: QueueEndpoint,
    private readonly pipeline: Pipeline,
    private readonly http: HttpClient,
    private readonly createRequest: (url: string, method: 'POST' | 'PUT') => PipelineRequest,
  ) {}

  static async create(
    endpoint: QueueEndpoint,
    options: QueueSenderOptions = {},
  ): Promise<QueueSender> {
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
          name: 'coordinatorQueueRoundTripCounter',
          sendRequest(request, next) {
            onRequest(request);
            return next(request);
          },
        },
        { afterPhase: 'Retry' },
      );
    const auth = endpoint.auth;
    if (auth.kind === 'sharedKey')
      pipeline.addPolicy(sharedKeyPolicy(auth.accountName, auth.accountKey), { phase: 'Sign' });
    else if (auth.kind === 'token')
      pipeline.addPolicy(
        bearerTokenAuthenticationPolicy({
          credential: auth.credential,
          scopes: 'https://storage.azure.com/.default',
        }),
        { phase: 'Sign' },
      );
    const insecure = endpoint.url.startsWith('http:');
    const http = createDefaultHttpClient();
    return new QueueSender(endpoint, pipeline, http, (url, method) =>
      createPipelineRequest({
        url: auth.kind === 'sas' ? `${url}?${auth.sas}` : url,
        method,
        headers: createHttpHeaders({ 'x-ms-version': queueServiceVersion }),
        allowInsecureConnection: insecure,
      }),
    );
  }

  private async send(
    method: 'POST' | 'PUT',
    url: string,
    body: string | undefined,
  ): Promise<{ status: number; code: string | undefined }> {
    const outgoing = this.createRequest(url, method);
    if (body !== undefined) {
      outgoing.body = body;
      outgoing.headers.set('content-type', 'application/xml');
      outgoing.headers.set('content-length', String(Buffer.byteLength(body)));
    }
    const response = await this.pipeline.sendRequest(this.http, outgoing);
    return { status: response.status, code: response.headers.get('x-ms-error-code') };
  }

  /** Create Queue: 201 created, 204 already there; 409 QueueAlreadyExists (other metadata) is there too. */
  async createQueue(queueName: string): Promise<void> {
    const { status, code } = await this.send('PUT', this.queueUrl(queueName), undefined);
    if (status === 201 || status === 204 || (status === 409 && code === 'QueueAlreadyExists'))
      return;
    throw new QueueRequestError(status, code, `Creating queue ${queueName}`);
  }

  /**
   * Put Message with the text as given (the caller encodes it). The queue is created when the
   * service says it does not exist, and the message sent again: one request when it exists.
   */
  async putMessage(queueName: string, messageText: string): Promise<void> {
    const body = `<?xml version="1.0" encoding="utf-8"?><QueueMessage><MessageText>${escapeXml(messageText)}</MessageText></QueueMessage>`;
    const url = `${this.queueUrl(queueName)}/messages`;
    let { status, code } = await this.send('POST', url, body);
    if (status === 404 && code === 'QueueNotFound') {
      await this.createQueue(queueName);
      ({ status, code } = await this.send('POST', url, body));
    }
    if (status !== 201)
      throw new QueueRequestError(status, code, `Sending a message to queue ${queueName}`);
  }

  private queueUrl(queueName: string): string {
    return `${this.endpoint.url}/${encodeURIComponent(queueName)}`;
  }
}

function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c,
  );
}
