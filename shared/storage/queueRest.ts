// Sending to Storage queues over the REST API (restTransport.ts: @azure/core-rest-pipeline, which
// the webhook has loaded for its Table insert by then). The webhook's only queue operation is Put
// Message; @azure/storage-queue with storage-common, core-http-compat and an XML parser (about 40 ms
// of CPU to load) would be loaded for that one call on every cold start. Auth as the SDK does it:
// Shared Key (signed per try), a SAS, or an Entra token.
// https://learn.microsoft.com/rest/api/storageservices/put-message
// https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key
import { createHmac } from 'node:crypto';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import {
  StorageRequestError,
  StorageTransport,
  storageEndpointFromConnectionString,
  type StorageEndpoint,
  type TransportOptions,
} from './restTransport.js';

/** The REST API version sent (the one @azure/storage-queue 12.30 sends). */
export const queueServiceVersion = '2026-04-06';

/** The queue endpoint and credentials of a connection string, as @azure/storage-queue reads it. */
export function queueEndpointFromConnectionString(connectionString: string): StorageEndpoint {
  return storageEndpointFromConnectionString(connectionString, 'queue');
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

/** Put Message and Create Queue, the two operations the coordinator needs. */
export class QueueSender {
  private constructor(private readonly transport: StorageTransport) {}

  static async create(
    endpoint: StorageEndpoint,
    options: TransportOptions = {},
  ): Promise<QueueSender> {
    return new QueueSender(await StorageTransport.create(endpoint, sharedKeyPolicy, options));
  }

  /** Create Queue: 201 created, 204 already there; 409 QueueAlreadyExists (other metadata) is there too. */
  async createQueue(queueName: string): Promise<void> {
    const { status, code } = await this.transport.send('PUT', this.queueUrl(queueName), {
      'x-ms-version': queueServiceVersion,
    });
    if (status === 201 || status === 204 || (status === 409 && code === 'QueueAlreadyExists'))
      return;
    throw new StorageRequestError(status, code, `Creating queue ${queueName}`);
  }

  /**
   * Put Message with the text as given (the caller encodes it). The queue is created when the
   * service says it does not exist, and the message sent again: one request when it exists.
   */
  async putMessage(queueName: string, messageText: string): Promise<void> {
    const body = `<?xml version="1.0" encoding="utf-8"?><QueueMessage><MessageText>${escapeXml(messageText)}</MessageText></QueueMessage>`;
    const url = `${this.queueUrl(queueName)}/messages`;
    const headers = { 'x-ms-version': queueServiceVersion, 'content-type': 'application/xml' };
    let { status, code } = await this.transport.send('POST', url, headers, body);
    if (status === 404 && code === 'QueueNotFound') {
      await this.createQueue(queueName);
      ({ status, code } = await this.transport.send('POST', url, headers, body));
    }
    if (status !== 201)
      throw new StorageRequestError(status, code, `Sending a message to queue ${queueName}`);
  }

  private queueUrl(queueName: string): string {
    return `${this.transport.endpoint.url}/${encodeURIComponent(queueName)}`;
  }
}

function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c,
  );
}
