// The storage REST transport (shared/storage/restTransport.ts): node:http(s) for Shared Key and SAS,
// @azure/core-rest-pipeline for Entra tokens and proxies; both send the same requests and retry the
// same way (the pipeline's retry policy, written out for node:http).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { QueueSender } from '../../shared/storage/queueRest.js';
import {
  retryDelayMs,
  StorageTransport,
  type StorageEndpoint,
  type TransportResponse,
} from '../../shared/storage/restTransport.js';
import { TableInserter } from '../../shared/storage/tableRest.js';

const devKey =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server | undefined;
afterEach(async () => {
  const s = server;
  server = undefined;
  if (s) await new Promise<void>((r) => s.close(() => r()));
});

async function recorder(
  answers: { status: number; headers?: Record<string, string> }[],
): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const answer = answers[Math.min(seen.length - 1, answers.length - 1)] ?? { status: 500 };
      res.writeHead(answer.status, answer.headers ?? {});
      res.end();
    });
  });
  const s = server;
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, seen };
}

const sharedKey = (url: string): StorageEndpoint => ({
  url: `${url}/devstoreaccount1`,
  auth: { kind: 'sharedKey', accountName: 'devstoreaccount1', accountKey: devKey },
});

function response(status: number, headers: Record<string, string> = {}): TransportResponse {
  return {
    status,
    code: undefined,
    header: (name) => headers[name.toLowerCase()],
    bodyText: '',
  };
}

describe('retryDelayMs (the pipeline retry policy)', () => {
  it('waits what a 429 or 503 says, in the pipeline order of headers', () => {
    expect(retryDelayMs(0, { response: response(429, { 'retry-after': '3' }) })).toBe(3000);
    expect(retryDelayMs(0, { response: response(503, { 'retry-after-ms': '250' }) })).toBe(250);
    expect(
      retryDelayMs(0, {
        response: response(503, { 'x-ms-retry-after-ms': '40', 'retry-after': '9' }),
      }),
    ).toBe(40);
    const date = new Date(Date.now() + 5000).toUTCString();
    const fromDate = retryDelayMs(0, { response: response(429, { 'retry-after': date }) });
    expect(fromDate).toBeGreaterThan(3000);
    expect(fromDate).toBeLessThanOrEqual(5000);
  });

  it('backs off exponentially with jitter on 408, 5xx but 501 and 505, and network errors', () => {
    for (const status of [408, 500, 502, 503, 504, 599]) {
      const first = retryDelayMs(0, { response: response(status) }, 1000);
      expect(first).toBeGreaterThanOrEqual(500);
      expect(first).toBeLessThanOrEqual(1000);
      const second = retryDelayMs(1, { response: response(status) }, 1000);
      expect(second).toBeGreaterThanOrEqual(1000);
      expect(second).toBeLessThanOrEqual(2000);
    }
    for (const code of ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND']) {
      const delay = retryDelayMs(0, { error: Object.assign(new Error(code), { code }) }, 10);
      expect(delay).toBeGreaterThanOrEqual(5);
      expect(delay).toBeLessThanOrEqual(10);
    }
    // The cap: 64 s.
    expect(retryDelayMs(20, { response: response(500) }, 1000)).toBeLessThanOrEqual(64_000);
  });

  it('does not retry other answers or other errors', () => {
    for (const status of [200, 201, 204, 400, 403, 404, 409, 412, 429, 501, 505])
      expect(retryDelayMs(0, { response: response(status) })).toBeUndefined();
    expect(
      retryDelayMs(0, { error: Object.assign(new Error('x'), { code: 'EPIPE' }) }),
    ).toBeUndefined();
    expect(retryDelayMs(0, { error: new Error('no code') })).toBeUndefined();
  });
});

describe('StorageTransport', () => {
  const noSigner = () => () => undefined;

  it('uses node:http for Shared Key and SAS, the pipeline for a token or a proxy', async () => {
    const url = 'http://127.0.0.1:1/acct';
    expect((await StorageTransport.create(sharedKey('http://127.0.0.1:1'), noSigner)).kind).toBe(
      'node',
    );
    expect(
      (await StorageTransport.create({ url, auth: { kind: 'sas', sas: 'sig=x' } }, noSigner)).kind,
    ).toBe('node');
    const credential = { getToken: () => Promise.resolve(null) };
    expect(
      (await StorageTransport.create({ url, auth: { kind: 'token', credential } }, noSigner)).kind,
    ).toBe('pipeline');
    const saved = process.env.https_proxy;
    process.env.https_proxy = 'http://proxy.example:8080';
    try {
      expect((await StorageTransport.create(sharedKey(url), noSigner)).kind).toBe('pipeline');
    } finally {
      if (saved === undefined) delete process.env.https_proxy;
      else process.env.https_proxy = saved;
    }
  });

  it('sends over node:http what the pipeline sends (Table insert and queue message)', async () => {
    const { url, seen } = await recorder([{ status: 201 }]);
    const row = { partitionKey: 'p', rowKey: 'r', value: 'ü € 😀' };
    for (const pipeline of [true, false]) {
      await (await TableInserter.create(sharedKey(url), { pipeline })).insertIfAbsent('t', row);
      await (await QueueSender.create(sharedKey(url), { pipeline })).putMessage('q', 'a<b');
    }
    expect(seen).toHaveLength(4);
    const own = new Set(['user-agent', 'accept-encoding', 'connection', 'host']);
    for (const [viaPipeline, viaNode] of [
      [seen[0], seen[2]],
      [seen[1], seen[3]],
    ]) {
      expect(viaNode?.method).toBe(viaPipeline?.method);
      expect(viaNode?.url).toBe(viaPipeline?.url);
      expect(viaNode?.body).toBe(viaPipeline?.body);
      const names = (r: Seen | undefined) =>
        Object.keys(r?.headers ?? {})
          .filter((n) => !own.has(n))
          .sort();
      expect(names(viaNode)).toEqual(names(viaPipeline));
      for (const name of names(viaNode))
        if (!['x-ms-date', 'authorization', 'x-ms-client-request-id'].includes(name))
          expect(`${name}: ${String(viaNode?.headers[name])}`).toBe(
            `${name}: ${String(viaPipeline?.headers[name])}`,
          );
    }
  });

  it('retries a network failure three tries in all, as the pipeline does, then throws its code', async () => {
    // A port nobody listens on: ECONNREFUSED.
    const { url } = await recorder([{ status: 201 }]);
    const s = server;
    server = undefined;
    await new Promise<void>((r) => s?.close(() => r()));
    for (const pipeline of [false, true]) {
      const tries: string[] = [];
      const sender = await QueueSender.create(sharedKey(url), {
        pipeline,
        retryDelayMs: 5,
        onRequest: (r) => tries.push(r.method),
      });
      await expect(sender.putMessage('q', 'x')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      expect(tries).toEqual(['POST', 'POST', 'POST']);
    }
  });

  it('waits out a 429 with Retry-After, signing each try anew with one client request id', async () => {
    const { url, seen } = await recorder([
      { status: 429, headers: { 'retry-after-ms': '20' } },
      { status: 201 },
    ]);
    await (await QueueSender.create(sharedKey(url))).putMessage('q', 'x');
    expect(seen).toHaveLength(2);
    expect(seen[0]?.headers['x-ms-client-request-id']).toBe(
      seen[1]?.headers['x-ms-client-request-id'],
    );
    expect(seen.every((r) => r.headers.authorization?.startsWith('SharedKey '))).toBe(true);
  });
});
