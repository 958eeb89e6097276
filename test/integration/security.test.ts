// Attempts to break the outward-facing paths: the webhook's secret check, body limits and payload
// validation, the lock API's lease secrecy, playbook webhook calls carrying %SETTING% secrets, and the
// redaction of the Octopus API key and the SendGrid key in errors.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startOctopusSimulator, type OctopusSimulator } from '../../dev/octopus-sim/index.js';
import {
  acquireLock,
  getLock,
  leaveLock,
  listLocks,
  releaseLock,
  renewLock,
} from '../../functions/locks.js';
import { coordinationConfigSchema } from '../../shared/config/coordination/schema.js';
import { immediateProcessingIdle } from '../../shared/events/queue.js';
import { maxWebhookBodyBytes } from '../../shared/events/read.js';
import { receiveOctopusEvent } from '../../shared/app/webhook.js';
import { verifyWebhookSecret } from '../../shared/events/verify.js';
import { HttpError } from '../../shared/http/errors.js';
import { jsonApi, toErrorResponse } from '../../shared/http/handler.js';
import { MailError } from '../../shared/mail/mailer.js';
import { SendGridMailer } from '../../shared/mail/sendGridMailer.js';
import { OctopusHttp } from '../../shared/octopus/http.js';
import { createOctopusClient } from '../../shared/octopus/client.js';
import { OctopusError } from '../../shared/octopus/errors.js';
import { silentLog } from '../../shared/runtime/log.js';
import { createRuntime, setRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { advanceRun, startRun } from '../../shared/runs/advance.js';
import { planFromPlaybook } from '../../shared/runs/plan.js';
import { RunStore } from '../../shared/runs/store.js';
import { runView } from '../../shared/runs/view.js';
import type { RunState } from '../../shared/runs/types.js';
import { appVersion } from '../../shared/version.js';
import { startFakeSendGrid, type FakeSendGrid } from '../helpers/fakeSendGrid.js';
import { azuriteRuntime } from '../helpers/runtime.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';

const webhookSecret = 'w3bhook-Secret-0123456789-abcdefghij';
const header = 'X-Coordinator-Secret';

interface Recorded {
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A throwaway HTTP server: `answer` writes the response; every request is recorded. */
async function startServer(
  answer: (url: string, res: import('node:http').ServerResponse) => void,
): Promise<{ url: string; seen: Recorded[]; stop: () => Promise<void> }> {
  const seen: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      answer(req.url ?? '/', res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

function expectStatus(err: unknown, status: number, code?: string): HttpError {
  expect(err).toBeInstanceOf(HttpError);
  const e = err as HttpError;
  expect(e.status).toBe(status);
  if (code) expect(e.code).toBe(code);
  return e;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('webhook secret check', () => {
  const settings = { secret: webhookSecret, header };
  const check = (headers: Record<string, string>) =>
    thrown(() => verifyWebhookSecret(settings, new Headers(headers)));

  it('accepts the exact secret under any spelling of the header name', () => {
    expect(() =>
      verifyWebhookSecret(settings, new Headers({ 'x-coordinator-secret': webhookSecret })),
    ).not.toThrow();
    expect(() =>
      verifyWebhookSecret(settings, new Headers({ 'X-COORDINATOR-SECRET': webhookSecret })),
    ).not.toThrow();
  });

  it.each([
    ['a different case', webhookSecret.toUpperCase()],
    ['a prefix of the secret', webhookSecret.slice(0, -1)],
    ['its first character only', webhookSecret.slice(0, 1)],
    ['the secret with more after it', `${webhookSecret}x`],
    ['the secret twice', `${webhookSecret}${webhookSecret}`],
    ['a much longer value', 'x'.repeat(8192)],
    ['the secret with one character changed', `${webhookSecret.slice(0, -1)}k`],
  ])('refuses %s with 401 and never echoes either value', (_what, sent) => {
    const e = expectStatus(check({ [header]: sent }), 401, 'webhook_secret_wrong');
    expect(e.message).not.toContain(webhookSecret);
    expect(e.message).not.toContain(sent);
    expect(e.message).toContain(header);
  });

  it('refuses a missing or empty header, and everything while no secret is configured', () => {
    expectStatus(check({}), 401, 'webhook_secret_missing');
    expectStatus(check({ [header]: '' }), 401, 'webhook_secret_missing');
    expectStatus(check({ 'X-Other': webhookSecret }), 401, 'webhook_secret_missing');
    expectStatus(
      thrown(() =>
        verifyWebhookSecret({ secret: undefined, header }, new Headers({ [header]: 'anything' })),
      ),
      401,
      'webhook_secret_not_configured',
    );
  });
});

describe('webhook intake', () => {
  let runtime: Runtime;

  beforeAll(async () => {
    runtime = await createRuntime({
      env: {
        AzureWebJobsStorage: azuriteConnectionString(),
        WEBHOOK_SECRET: webhookSecret,
        WEBHOOK_SECRET_HEADER: header,
      },
      config: coordinationConfigSchema.parse({}),
      tablePrefix: uniqueTablePrefix(),
    });
  });

  afterAll(async () => {
    await immediateProcessingIdle(runtime);
  });

  /** A request whose body is a stream with no Content-Length (as a chunked upload arrives). */
  function streamedRequest(
    headers: Record<string, string>,
    chunk: Uint8Array,
    chunks: number,
  ): { request: HttpRequest; pulled: () => number } {
    let pulled = 0;
    // highWaterMark 0: nothing is pulled until somebody reads.
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (pulled >= chunks) {
            controller.close();
            return;
          }
          pulled += 1;
          controller.enqueue(chunk);
        },
      },
      { highWaterMark: 0 },
    );
    const nativeRequest = new Request('http://127.0.0.1/api/octopus/events', {
      method: 'POST',
      headers,
      body,
      duplex: 'half',
    } as RequestInit);
    // The library's constructor takes a native request (as its streaming mode does); its typings omit it.
    const init = { nativeRequest } as unknown as ConstructorParameters<typeof HttpRequest>[0];
    return { request: new HttpRequest(init), pulled: () => pulled };
  }

  function post(body: string, headers: Record<string, string> = { [header]: webhookSecret }) {
    return new HttpRequest({
      method: 'POST',
      url: 'http://127.0.0.1/api/octopus/events',
      headers: { 'content-type': 'application/json', ...headers },
      body: { string: body },
    });
  }

  const handle = (request: HttpRequest): Promise<HttpResponseInit> =>
    Promise.resolve(
      jsonApi((r) => receiveOctopusEvent(runtime, r, silentLog))(request, new InvocationContext()),
    );

  const event = (id: string, extra: Record<string, unknown> = {}) => ({
    Timestamp: '2026-11-21T10:00:00Z',
    EventType: 'SubscriptionPayload',
    Payload: {
      BatchId: 'b-1',
      Event: {
        Id: id,
        Category: 'DeploymentSucceeded',
        Occurred: '2026-11-21T10:00:00Z',
        RelatedDocumentIds: ['Deployments-1', 'Projects-1', 'Environments-1'],
        ...extra,
      },
    },
  });

  it('refuses a wrong secret without reading the body, however large', async () => {
    const { request, pulled } = streamedRequest(
      { [header]: webhookSecret.slice(0, 10) },
      new Uint8Array(64 * 1024),
      10_000,
    );
    const res = await handle(request);
    expect(res.status).toBe(401);
    expect(pulled()).toBe(0);
    expect(JSON.stringify(res.jsonBody)).not.toContain(webhookSecret);
  });

  it('answers 413 to an authenticated body over the limit sent without Content-Length, and stops reading it', async () => {
    // 64 KiB chunks, 160 MiB on offer: reading it all before checking would be the bug.
    const { request, pulled } = streamedRequest(
      { [header]: webhookSecret },
      new Uint8Array(64 * 1024).fill(0x20),
      2560,
    );
    const res = await handle(request);
    expect(res.status).toBe(413);
    expect(res.jsonBody).toMatchObject({ error: { code: 'payload_too_large' } });
    expect(pulled()).toBeLessThan(2560);
    expect(pulled() * 64 * 1024).toBeLessThanOrEqual(maxWebhookBodyBytes + 2 * 64 * 1024);
  });

  it('answers 413 when Content-Length declares too much, before reading', async () => {
    const res = await handle(
      post('{}', { [header]: webhookSecret, 'content-length': String(maxWebhookBodyBytes + 1) }),
    );
    expect(res.status).toBe(413);
  });

  it.each([
    ['an array', '[]', 'body'],
    ['a string', '"hello"', 'body'],
    ['null', 'null', 'body'],
    ['Payload as an array', JSON.stringify({ Payload: [] }), 'Payload'],
    ['Event as a string', JSON.stringify({ Payload: { Event: 'x' } }), 'Payload.Event'],
    ['Event.Id as a number', JSON.stringify(event('x', { Id: 5 })), 'Payload.Event.Id'],
    [
      'RelatedDocumentIds as a string',
      JSON.stringify(event('Events-9', { RelatedDocumentIds: 'Projects-1' })),
      'Payload.Event.RelatedDocumentIds',
    ],
    [
      'a related id as a number',
      JSON.stringify(event('Events-9', { RelatedDocumentIds: [1] })),
      'Payload.Event.RelatedDocumentIds.0',
    ],
    [
      'Subscription as a number',
      JSON.stringify({ Payload: { ...event('Events-9').Payload, Subscription: 3 } }),
      'Payload.Subscription',
    ],
  ])('answers 400 naming where the problem is for %s', async (_what, body, where) => {
    const res = await handle(post(body));
    expect(res.status).toBe(400);
    const error = (res.jsonBody as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('not_a_subscription_payload');
    expect(error.message).toContain(`${where}:`);
  });

  it('answers 400 for a body that is not JSON, and for an empty body', async () => {
    for (const body of ['{', '', 'Events-1']) {
      const res = await handle(post(body));
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.jsonBody)).not.toContain(webhookSecret);
    }
  });

  it('stores an event once when the same delivery arrives many times at once, and after', async () => {
    const body = JSON.stringify(event('Events-424242'));
    const answers = await Promise.all(Array.from({ length: 8 }, () => handle(post(body))));
    const outcomes = answers.map((a) => (a.jsonBody as { outcome: string }).outcome).sort();
    expect(outcomes.filter((o) => o === 'stored')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(7);
    const again = await handle(post(body));
    expect(again.status).toBe(200);
    expect(again.jsonBody).toEqual({ eventId: 'Events-424242', outcome: 'duplicate' });
  });
});

describe('lock API', () => {
  let runtime: Runtime;

  beforeAll(async () => {
    runtime = await azuriteRuntime();
    setRuntime(runtime);
  });

  afterAll(() => {
    setRuntime(undefined);
  });

  type Handler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;
  async function call(
    handler: Handler,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await jsonApi(handler)(
      new HttpRequest({
        method,
        url: `http://127.0.0.1/api/${path}`,
        headers: { 'content-type': 'application/json' },
        ...(body === undefined
          ? {}
          : { body: { string: typeof body === 'string' ? body : JSON.stringify(body) } }),
      }),
      new InvocationContext(),
    );
    const init = res as HttpResponseInit;
    return { status: init.status ?? 200, json: (init.jsonBody ?? {}) as Record<string, unknown> };
  }

  const path = (name: string, action?: string) =>
    `locks/${encodeURIComponent(name)}${action ? `/${action}` : ''}`;

  it.each([
    ['control characters', 'step\u0000b\u001f\u007f\n\t'],
    ['a slash, a backslash, # and ?', 'web01/step b\\x#1?q=2'],
    ['a percent sign and %2F spelled out', '100% %2F done'],
    ['512 characters', 'n'.repeat(511) + '\u0001'],
    ['non-Latin text', 'Zähler ✓ ロック'],
  ])('keeps a lock named with %s apart and intact', async (_what, name) => {
    const granted = await call(acquireLock, 'POST', path(name, 'acquire'), { holder: 'a' });
    expect(granted.status).toBe(200);
    const view = await call(getLock, 'GET', path(name));
    expect(view.status).toBe(200);
    expect(view.json.name).toBe(name);
    const released = await call(releaseLock, 'POST', path(name, 'release'), {
      leaseId: granted.json.leaseId,
    });
    expect(released.status).toBe(200);
  });

  it('answers 400 naming the name for a name too long or badly percent-encoded', async () => {
    const long = await call(acquireLock, 'POST', path('n'.repeat(513), 'acquire'), { holder: 'a' });
    expect(long.status).toBe(400);
    expect(JSON.stringify(long.json)).toMatch(/name: /);
    const bad = await call(acquireLock, 'POST', 'locks/%E0%A4%A/acquire', { holder: 'a' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toMatch(/name: /);
  });

  it.each([
    ['an array', [], 'body'],
    ['holder as a number', { holder: 5 }, 'holder'],
    ['permits as a string', { holder: 'a', permits: '2' }, 'permits'],
    ['ttlSeconds as an object', { holder: 'a', ttlSeconds: {} }, 'ttlSeconds'],
    ['an unknown field', { holder: 'a', leaseId: 'x' }, 'body'],
  ])('answers 400 naming the field for an acquire body with %s', async (_what, body, where) => {
    const res = await call(acquireLock, 'POST', path('typed', 'acquire'), body);
    expect(res.status).toBe(400);
    expect((res.json.error as { message: string }).message).toContain(`${where}:`);
  });

  it('never lists lease ids, and lets only the holder renew or release', async () => {
    const name = 'tenant-step/web01';
    const a = await call(acquireLock, 'POST', path(name, 'acquire'), {
      holder: 'deploy A',
      requestId: 'task-1/machine-1',
      ttlSeconds: 300,
    });
    expect(a.status).toBe(200);
    const leaseId = String(a.json.leaseId);
    const secret = leaseId.split('.')[1] ?? '';
    expect(secret).toMatch(/^[0-9a-f]{24}$/);
    const b = await call(acquireLock, 'POST', path(name, 'acquire'), { holder: 'deploy B' });
    expect(b.status).toBe(202);

    for (const res of [
      await call(listLocks, 'GET', 'locks'),
      await call(getLock, 'GET', path(name)),
      await call(getLock, 'GET', `${path(name)}?history=true`),
    ]) {
      expect(res.status).toBe(200);
      expect(JSON.stringify(res.json)).not.toContain(secret);
      expect(JSON.stringify(res.json)).not.toContain('task-1/machine-1');
    }

    const forged = `${leaseId.split('.')[0] ?? ''}.${'0'.repeat(24)}`;
    expect((await call(renewLock, 'POST', path(name, 'renew'), { leaseId: forged })).status).toBe(
      409,
    );
    expect(
      (await call(releaseLock, 'POST', path(name, 'release'), { leaseId: forged })).status,
    ).toBe(409);
    // The right lease id on another lock's name is not the holder there either.
    expect((await call(releaseLock, 'POST', path(`${name}x`, 'release'), { leaseId })).status).toBe(
      409,
    );
    for (const body of [{ leaseId: 5 }, { leaseId: '' }, {}, { leaseId: `${leaseId} ` + 'x' }]) {
      const res = await call(renewLock, 'POST', path(name, 'renew'), body);
      expect(res.status).toBe(400);
      expect((res.json.error as { message: string }).message).toMatch(/leaseId/);
    }
    expect((await call(renewLock, 'POST', path(name, 'renew'), { leaseId })).status).toBe(200);
    expect((await call(releaseLock, 'POST', path(name, 'release'), { leaseId })).status).toBe(200);
  });

  // A holder name is public (the listings show it); the requestId that took a grant or a place is not.
  it('does not hand a grant or a place taken with a requestId to a caller who only knows the holder name', async () => {
    const name = 'holder-name-only';
    const a = await call(acquireLock, 'POST', path(name, 'acquire'), {
      holder: 'deploy A',
      requestId: 'task-7/machine-1/action-1',
    });
    expect(a.status).toBe(200);
    const b = await call(acquireLock, 'POST', path(name, 'acquire'), {
      holder: 'deploy B',
      requestId: 'task-8/machine-1/action-1',
    });
    expect(b.json).toMatchObject({ granted: false, position: 1 });
    const listed = await call(getLock, 'GET', path(name));
    const holder = (listed.json.holders as { holder: string }[])[0]?.holder ?? '';
    const waiter = (listed.json.waiters as { holder: string }[])[0]?.holder ?? '';
    expect([holder, waiter]).toEqual(['deploy A', 'deploy B']);

    for (const body of [{ holder }, { holder, requestId: holder }, { holder, queue: false }]) {
      const thief = await call(acquireLock, 'POST', path(name, 'acquire'), body);
      expect(thief.status).toBe(202);
      expect(thief.json.leaseId).toBeUndefined();
    }
    // Nor B's place: the thief queues behind B (after its two places above), and naming B leaves
    // only the thief's own place, taken without a requestId.
    const behind = await call(acquireLock, 'POST', path(name, 'acquire'), { holder: waiter });
    expect(behind.json).toMatchObject({ granted: false, position: 4 });
    const left = await call(leaveLock, 'POST', path(name, 'leave'), { holder: waiter });
    expect(left.json).toEqual({ lock: name, left: true });
    expect(
      (await call(leaveLock, 'POST', path(name, 'leave'), { holder: waiter })).json,
    ).toMatchObject({ left: false });
    const view = await call(getLock, 'GET', path(name));
    expect((view.json.waiters as { holder: string }[]).map((w) => w.holder)).toEqual([
      'deploy B',
      'deploy A',
      'deploy A',
    ]);
  });

  it('keeps a grant taken with a requestId equal to the holder name from a request without one', async () => {
    const name = 'request-id-is-the-name';
    const a = await call(acquireLock, 'POST', path(name, 'acquire'), {
      holder: 'deploy A',
      requestId: 'deploy A',
    });
    expect(a.status).toBe(200);
    const thief = await call(acquireLock, 'POST', path(name, 'acquire'), { holder: 'deploy A' });
    expect(thief.status).toBe(202);
    expect(thief.json.leaseId).toBeUndefined();
  });
});

describe('playbook webhook actions with %SETTING% secrets', () => {
  const token = 'hook-token-5ecret-abcdefghijklmnop';
  let sim: OctopusSimulator;
  let mail: FakeSendGrid;
  let target: Awaited<ReturnType<typeof startServer>>;
  let elsewhere: Awaited<ReturnType<typeof startServer>>;

  beforeAll(async () => {
    sim = await startOctopusSimulator({ port: 0 });
    mail = await startFakeSendGrid();
    elsewhere = await startServer((_url, res) => res.writeHead(200).end('ok'));
    target = await startServer((url, res) => {
      if (url.startsWith('/redirect')) {
        res.writeHead(302, { location: `${elsewhere.url}/landed` }).end();
      } else if (url.startsWith('/echo')) {
        res.writeHead(500, `Broken ${token}`, { 'content-type': 'text/plain' }).end(token);
      } else res.writeHead(200).end('ok');
    });
  });

  afterAll(async () => {
    await sim.stop();
    await mail.stop();
    await target.stop();
    await elsewhere.stop();
    delete process.env.SECURITY_TEST_HOOK_TOKEN;
  });

  afterEach(() => {
    mail.received.length = 0;
  });

  async function runPlaybook(
    url: string,
    headerValue: string,
    tokenValue: string,
  ): Promise<{ state: RunState; dump: string }> {
    process.env.SECURITY_TEST_HOOK_TOKEN = tokenValue;
    const config = coordinationConfigSchema.parse({
      space: 'Default',
      playbooks: {
        hook: {
          stages: [
            {
              name: 'Call',
              actions: [
                {
                  type: 'webhook',
                  id: 'call',
                  url,
                  headers: { 'X-Hook-Token': headerValue },
                  body: { hello: 'world', run: '{run.id}', status: '{status}', link: '{runUrl}' },
                },
              ],
            },
          ],
          recipients: ['ops@example.com'],
        },
      },
    });
    const runtime = await createRuntime({
      env: {
        AzureWebJobsStorage: azuriteConnectionString(),
        OCTOPUS_URL: sim.url,
        OCTOPUS_API_KEY: sim.apiKey,
        SENDGRID_API_KEY: 'SG.fake-key',
        SENDGRID_API_URL: mail.url,
        MAIL_FROM: 'coordinator@example.com',
        WEBHOOK_SECRET: webhookSecret,
      },
      config,
      tablePrefix: uniqueTablePrefix(),
    });
    const { state: first } = await startRun(runtime, planFromPlaybook(config, 'hook'), {
      kind: 'api',
    });
    const store = new RunStore(runtime.tables);
    const until = Date.now() + 20_000;
    for (;;) {
      await advanceRun(runtime, first.id);
      const stored = await store.get(first.id);
      const s = stored?.state;
      if (
        s &&
        ['succeeded', 'failed', 'cancelled'].includes(s.status) &&
        !['pending', 'sending'].includes(s.finishedMail.status)
      ) {
        const table = await runtime.tables.table('runs');
        const rows: unknown[] = [];
        for await (const row of table.listEntities()) rows.push(row);
        const dump = JSON.stringify({ rows, view: runView(s), mail: mail.received });
        return { state: s, dump };
      }
      if (Date.now() > until) throw new Error(`run did not finish: ${JSON.stringify(s?.history)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('keeps the secret out of the run, its view and its email when the server answers 500 with it', async () => {
    const { state, dump } = await runPlaybook(
      `${target.url}/echo`,
      'Bearer %SECURITY_TEST_HOOK_TOKEN%',
      token,
    );
    expect(state.status).toBe('failed');
    expect(target.seen.at(-1)?.headers['x-hook-token']).toBe(`Bearer ${token}`);
    expect(mail.received.length).toBeGreaterThan(0);
    expect(dump).not.toContain(token);
  });

  it('names the coordinator and its version in User-Agent and fills the body placeholders', async () => {
    const { state } = await runPlaybook(
      `${target.url}/ok`,
      'Bearer %SECURITY_TEST_HOOK_TOKEN%',
      token,
    );
    expect(state.status).toBe('succeeded');
    const call = target.seen.at(-1);
    expect(call?.headers['user-agent']).toBe(`octopus-coordinator/${appVersion}`);
    expect(JSON.parse(call?.body ?? '{}')).toEqual({
      hello: 'world',
      run: state.id,
      status: 'running',
      link: `/api/runs/${state.id}`,
    });
  });

  it('keeps the secret out of the run, its view and its email when the value cannot be sent', async () => {
    const bad = `${token}\nsecond-line`;
    const { state, dump } = await runPlaybook(
      `${target.url}/ok`,
      '%SECURITY_TEST_HOOK_TOKEN%',
      bad,
    );
    expect(state.status).toBe('failed');
    expect(mail.received.length).toBeGreaterThan(0);
    expect(dump).not.toContain(token);
    expect(dump).toContain('X-Hook-Token');
  });

  it('does not follow a redirect, so the secret header never reaches another server', async () => {
    const before = elsewhere.seen.length;
    const { state, dump } = await runPlaybook(
      `${target.url}/redirect`,
      '%SECURITY_TEST_HOOK_TOKEN%',
      token,
    );
    expect(elsewhere.seen.length).toBe(before);
    expect(state.status).toBe('failed');
    expect(dump).toContain('redirect');
  });

  it("refuses to put the coordinator's own secrets in a webhook header", async () => {
    const before = target.seen.length;
    // Runs read %SETTING% values from the process environment, as on Azure.
    process.env.OCTOPUS_API_KEY = sim.apiKey;
    try {
      const { state, dump } = await runPlaybook(`${target.url}/ok`, '%OCTOPUS_API_KEY%', token);
      expect(state.status).toBe('failed');
      expect(target.seen.length).toBe(before);
      expect(dump).toContain("OCTOPUS_API_KEY, one of the coordinator's own credentials");
      expect(dump).not.toContain(sim.apiKey);
    } finally {
      delete process.env.OCTOPUS_API_KEY;
    }
  });
});

describe('Octopus errors', () => {
  const apiKey = 'API-ABCDEFGHIJKLMNOPQRSTUVWX12';
  let octopus: Awaited<ReturnType<typeof startServer>>;
  let elsewhere: Awaited<ReturnType<typeof startServer>>;

  beforeAll(async () => {
    elsewhere = await startServer((_url, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"Items":[]}'),
    );
    octopus = await startServer((url, res) => {
      if (url.startsWith('/api/redirect')) {
        res.writeHead(302, { location: `${elsewhere.url}/api/spaces` }).end();
        return;
      }
      res.writeHead(400, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          ErrorMessage: `The key ${apiKey} may not do this`,
          Errors: [`key=${apiKey}`],
        }),
      );
    });
  });

  afterAll(async () => {
    await octopus.stop();
    await elsewhere.stop();
  });

  it('redacts the API key from the message, details, JSON, logs and the HTTP answer', async () => {
    const logs: string[] = [];
    const client = createOctopusClient({
      url: octopus.url,
      apiKey,
      space: 'Spaces-1',
      log: (_level, message) => logs.push(message),
    });
    const err = await client.spaces.all().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OctopusError);
    const warned: string[] = [];
    const context = new InvocationContext({
      logHandler: (_level, ...args) => warned.push(args.map(String).join(' ')),
    });
    const answer = toErrorResponse(err, context);
    const everything = [
      (err as Error).message,
      JSON.stringify(err),
      String((err as Error).stack),
      JSON.stringify(answer),
      ...logs,
      ...warned,
    ].join('\n');
    expect(everything).toContain('may not do this');
    expect(everything).not.toContain(apiKey);
  });

  it('does not send the API key to another origin when Octopus redirects there', async () => {
    const http = new OctopusHttp({
      url: octopus.url,
      apiKey,
      timeoutMs: 5000,
      maxRetries: 0,
      retryBaseMs: 1,
      retryMaxMs: 1,
      maxRetryAfterMs: 1,
      createSettleMs: 1,
      log: () => undefined,
      sleep: async () => undefined,
      random: () => 0,
    });
    await http
      .request({ method: 'GET', endpoint: '/api/redirect', path: '/api/redirect' })
      .catch(() => undefined);
    expect(elsewhere.seen.length).toBeGreaterThan(0);
    for (const r of elsewhere.seen) expect(r.headers['x-octopus-apikey']).toBeUndefined();
  });
});

describe('SendGrid errors', () => {
  const key = 'SG.abcdefghijklmnopqrstuv.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef';

  it('never carry the SendGrid key, even when the service echoes it', async () => {
    const server = await startServer((_url, res) =>
      res.writeHead(401, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          errors: [{ message: `The API key ${key} is not valid`, field: `key ${key}` }],
        }),
      ),
    );
    try {
      const mailer = new SendGridMailer({
        apiKey: key,
        from: 'coordinator@example.com',
        baseUrl: `${server.url}/`,
      });
      const err = await mailer.send({ to: ['a@example.com'], subject: 'Hi', text: 'x' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(MailError);
      expect((err as MailError).status).toBe(401);
      expect((err as MailError).retryable).toBe(false);
      expect(`${(err as Error).message} ${JSON.stringify(err)}`).not.toContain(key);
      expect(server.seen[0]?.headers.authorization).toBe(`Bearer ${key}`);
    } finally {
      await server.stop();
    }
  });

  it('never carry the SendGrid key when the service cannot be reached', async () => {
    const mailer = new SendGridMailer({
      apiKey: key,
      from: 'coordinator@example.com',
      baseUrl: 'http://127.0.0.1:9/',
    });
    const err = await mailer.send({ to: ['a@example.com'], subject: 'Hi', text: 'x' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MailError);
    expect((err as MailError).retryable).toBe(true);
    expect(`${(err as Error).message} ${JSON.stringify(err)}`).not.toContain(key);
  });
});
