// The dev host must not be kinder than the real host when a streamed answer breaks off: the real
// host's forwarder never gets the end of the body and aborts the caller's connection after its
// activity timeout, so the caller never sees a completed answer (the dev host used to append a
// JSON error and end it cleanly).
import { request as httpRequest } from 'node:http';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FunctionHost } from '../../dev/functionHost.js';

let host: FunctionHost;

beforeAll(async () => {
  host = new FunctionHost({
    appRoot: resolve('test/fixtures/stream-app'),
    port: 0,
    timers: false,
    queues: false,
    log: () => {},
  });
  await host.load();
  await host.start();
});

afterAll(async () => {
  await host?.stop();
});

describe('a streamed answer that fails after its first bytes', () => {
  it('is never completed for the caller: no end, no error text appended', async () => {
    expect(host.httpUri).toBeDefined();
    const seen = { status: 0, body: '', ended: false, closed: false };
    const closed = new Promise<void>((done) => {
      const req = httpRequest(`${host.url}/api/breaks`, (res) => {
        seen.status = res.statusCode ?? 0;
        res.setEncoding('utf8');
        res.on('data', (text: string) => (seen.body += text));
        res.on('end', () => (seen.ended = true));
        res.on('close', () => {
          seen.closed = true;
          done();
        });
      });
      req.on('error', () => done());
      req.end();
    });
    const deadline = Date.now() + 10_000;
    while (!seen.body && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // Time for the function's failure to reach the host.
    await new Promise((r) => setTimeout(r, 1000));
    expect(seen.status).toBe(200);
    expect(seen.body).toBe('first part;');
    expect(seen.ended).toBe(false);
    // Stopping the host drops the connection: the caller sees an aborted answer.
    await host.stop();
    await closed;
    expect(seen.ended).toBe(false);
    expect(seen.body).toBe('first part;');
  });
});
