// The REST queue sender (shared/storage/queueRest.ts) that replaced @azure/storage-queue on the
// webhook's path: connection strings read as the SDK reads them, the Shared Key signature computed as
// the SDK computes it (checked on requests the SDK itself sends), retries and queue creation.
import { createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { QueueClient } from '@azure/storage-queue';
import { afterEach, describe, expect, it } from 'vitest';
import {
  QueueSender,
  queueEndpointFromConnectionString,
  sharedKeyStringToSign,
} from '../../shared/storage/queueRest.js';
import { closeRecorders, recorder } from '../helpers/storageRecorder.js';

const devKey =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

afterEach(closeRecorders);

function headerMap(headers: IncomingMessage['headers']) {
  const entries: [string, string][] = Object.entries(headers).map(([k, v]) => [
    k,
    Array.isArray(v) ? v.join(',') : (v ?? ''),
  ]);
  const map = new Map(entries);
  return {
    get: (name: string) => map.get(name.toLowerCase()),
    [Symbol.iterator]: () => map[Symbol.iterator](),
  };
}

describe('queue connection strings', () => {
  it('reads an account with a queue endpoint (Azurite)', () => {
    const e = queueEndpointFromConnectionString(
      `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${devKey};TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1/;`,
    );
    expect(e.url).toBe('http://127.0.0.1:10001/devstoreaccount1');
    expect(e.auth).toEqual({
      kind: 'sharedKey',
      accountName: 'devstoreaccount1',
      accountKey: devKey,
    });
  });

  it('derives the endpoint from the account, protocol and suffix as the SDK does', () => {
    expect(
      queueEndpointFromConnectionString(
        'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.chinacloudapi.cn',
      ).url,
    ).toBe('https://acct.queue.core.chinacloudapi.cn');
    expect(queueEndpointFromConnectionString('AccountName=acct;AccountKey=a2V5').url).toBe(
      'https://acct.queue.core.windows.net',
    );
  });

  it('reads development storage and a SAS', () => {
    const dev = queueEndpointFromConnectionString('UseDevelopmentStorage=true');
    expect(dev.url).toBe('http://127.0.0.1:10001/devstoreaccount1');
    expect(dev.auth.kind).toBe('sharedKey');
    const sas = queueEndpointFromConnectionString(
      'QueueEndpoint=https://acct.queue.core.windows.net;SharedAccessSignature=sv=2024-01-01&sig=abc%3D',
    );
    expect(sas).toEqual({
      url: 'https://acct.queue.core.windows.net',
      auth: { kind: 'sas', sas: 'sv=2024-01-01&sig=abc%3D' },
    });
  });

  it('refuses a connection string it cannot use', () => {
    expect(() => queueEndpointFromConnectionString('TableEndpoint=http://x/;')).toThrow(
      /no queue endpoint/,
    );
    expect(() => queueEndpointFromConnectionString('QueueEndpoint=http://x/;')).toThrow(
      /neither AccountName and AccountKey nor SharedAccessSignature/,
    );
  });
});

describe('Shared Key signature', () => {
  it('is the one @azure/storage-queue computes, on requests the SDK sends (with and without a query)', async () => {
    const { url, seen } = await recorder([{ status: 201 }, { status: 204 }, { status: 200 }]);
    const client = new QueueClient(
      `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${devKey};QueueEndpoint=${url}/devstoreaccount1;`,
      'some-queue',
      { retryOptions: { maxTries: 1 } },
    );
    // Only the requests matter here: the recorder's empty answers make the SDK fail to parse some.
    await client.sendMessage('aGVsbG8=', { messageTimeToLive: 60 }).catch(() => undefined);
    await client.createIfNotExists({ metadata: { Team: 'platform' } }).catch(() => undefined);
    await client.getProperties().catch(() => undefined);
    expect(seen).toHaveLength(3);
    for (const r of seen) {
      const toSign = sharedKeyStringToSign(
        'devstoreaccount1',
        r.method,
        `http://127.0.0.1${r.url}`,
        headerMap(r.headers),
      );
      const signature = createHmac('sha256', Buffer.from(devKey, 'base64'))
        .update(toSign, 'utf8')
        .digest('base64');
      expect(`${r.method} ${r.url} ${r.headers.authorization}`).toBe(
        `${r.method} ${r.url} SharedKey devstoreaccount1:${signature}`,
      );
    }
  });
});

describe('QueueSender', () => {
  const sharedKey = (url: string) => ({
    url: `${url}/devstoreaccount1`,
    auth: { kind: 'sharedKey' as const, accountName: 'devstoreaccount1', accountKey: devKey },
  });

  it('sends one Put Message, signed, with the text XML-escaped', async () => {
    const { url, seen } = await recorder([{ status: 201 }]);
    const tries: string[] = [];
    const sender = await QueueSender.create(sharedKey(url), {
      onRequest: (r) => tries.push(`${r.method} ${r.url}`),
    });
    await sender.putMessage('octopus-events', 'a<b&"c\'>');
    expect(seen).toHaveLength(1);
    const [r] = seen;
    expect(r?.method).toBe('POST');
    expect(r?.url).toBe('/devstoreaccount1/octopus-events/messages');
    expect(r?.body).toBe(
      '<?xml version="1.0" encoding="utf-8"?><QueueMessage><MessageText>a&lt;b&amp;&quot;c&apos;&gt;</MessageText></QueueMessage>',
    );
    expect(r?.headers['x-ms-version']).toBe('2026-04-06');
    expect(r?.headers.authorization).toMatch(/^SharedKey devstoreaccount1:[A-Za-z0-9+/]+=*$/);
    expect(tries).toEqual([`POST ${url}/devstoreaccount1/octopus-events/messages`]);
  });

  it('creates the queue when the service says it does not exist, then sends again', async () => {
    const { url, seen } = await recorder([
      { status: 404, code: 'QueueNotFound' },
      { status: 201 },
      { status: 201 },
    ]);
    const sender = await QueueSender.create(sharedKey(url));
    await sender.putMessage('octopus-events', 'x');
    expect(seen.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /devstoreaccount1/octopus-events/messages',
      'PUT /devstoreaccount1/octopus-events',
      'POST /devstoreaccount1/octopus-events/messages',
    ]);
  });

  it('retries a 503 and a 500 (three tries in all), each try signed anew', async () => {
    const { url, seen } = await recorder([{ status: 503 }, { status: 500 }, { status: 201 }]);
    const sender = await QueueSender.create(sharedKey(url), { retryDelayMs: 10 });
    await sender.putMessage('octopus-events', 'x');
    expect(seen).toHaveLength(3);
    expect(seen.every((r) => r.headers.authorization?.startsWith('SharedKey '))).toBe(true);
  });

  it('fails with the status and error code after the last try, or at once when refused', async () => {
    const down = await recorder([{ status: 500, code: 'InternalError' }]);
    const sender = await QueueSender.create(sharedKey(down.url), { retryDelayMs: 10 });
    await expect(sender.putMessage('octopus-events', 'x')).rejects.toMatchObject({
      statusCode: 500,
      code: 'InternalError',
    });
    expect(down.seen).toHaveLength(3);
  });

  it('does not retry a refusal (403)', async () => {
    const { url, seen } = await recorder([{ status: 403, code: 'AuthenticationFailed' }]);
    const sender = await QueueSender.create(sharedKey(url));
    await expect(sender.putMessage('octopus-events', 'x')).rejects.toThrow(
      /Sending a message to queue octopus-events failed: 403 AuthenticationFailed/,
    );
    expect(seen).toHaveLength(1);
  });

  it('appends a SAS to the URL and signs nothing', async () => {
    const { url, seen } = await recorder([{ status: 201 }]);
    const sender = await QueueSender.create({
      url: `${url}/acct`,
      auth: { kind: 'sas', sas: 'sv=2024-01-01&sig=abc%3D' },
    });
    await sender.putMessage('q-1', 'x');
    expect(seen[0]?.url).toBe('/acct/q-1/messages?sv=2024-01-01&sig=abc%3D');
    expect(seen[0]?.headers.authorization).toBeUndefined();
  });
});
