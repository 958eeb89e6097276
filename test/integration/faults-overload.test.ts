// Issue 19 item 6: under load, lock long-polls are shed (429 + Retry-After) before they can hold up
// the webhook, and the shell client waits as long as the answer asks, keeping its request id.
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireLock } from '../../functions/locks.js';
import { receiveOctopusEvent } from '../../shared/app/webhook.js';
import { coordinationConfigSchema } from '../../shared/config/coordination/schema.js';
import { lockAcquireAdmission } from '../../shared/http/admission.js';
import { jsonApi } from '../../shared/http/handler.js';
import { silentLog } from '../../shared/runtime/log.js';
import { createRuntime, setRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';

const secret = 'overload-secret';
let runtime: Runtime;

beforeAll(async () => {
  runtime = await createRuntime({
    env: {
      AzureWebJobsStorage: azuriteConnectionString(),
      WEBHOOK_SECRET: secret,
      WEBHOOK_SECRET_HEADER: 'X-Coordinator-Secret',
    },
    config: coordinationConfigSchema.parse({}),
    tablePrefix: uniqueTablePrefix(),
  });
  setRuntime(runtime);
});
afterAll(() => setRuntime(undefined));

function acquire(name: string, body: Record<string, unknown>): Promise<HttpResponseInit> {
  const request = new HttpRequest({
    method: 'POST',
    url: `http://127.0.0.1/api/locks/${name}/acquire`,
    headers: { 'content-type': 'application/json' },
    params: { name },
    body: { string: JSON.stringify(body) },
  });
  return Promise.resolve(jsonApi(acquireLock)(request, new InvocationContext()));
}

function webhook(id: string): Promise<HttpResponseInit> {
  const request = new HttpRequest({
    method: 'POST',
    url: 'http://127.0.0.1/api/octopus/events',
    headers: { 'content-type': 'application/json', 'X-Coordinator-Secret': secret },
    body: {
      string: JSON.stringify({
        Payload: {
          Event: {
            Id: id,
            Category: 'DeploymentSucceeded',
            Occurred: new Date().toISOString(),
            RelatedDocumentIds: [],
          },
        },
      }),
    },
  });
  return Promise.resolve(
    jsonApi((r) => receiveOctopusEvent(runtime, r, silentLog))(request, new InvocationContext()),
  );
}

describe('lock long-polls are shed past the per-instance bound', () => {
  it('answers 429 with Retry-After once the bound is reached, while the webhook is still served', async () => {
    expect((await acquire('busy', { holder: 'owner', ttlSeconds: 60 })).status).toBe(200);
    const waiting = Array.from({ length: lockAcquireAdmission.max }, (_, i) =>
      acquire('busy', { holder: `waiter ${i}`, wait: 2 }),
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(lockAcquireAdmission.active).toBe(lockAcquireAdmission.max);
    const shed = await acquire('busy', { holder: 'one too many', wait: 2 });
    expect(shed.status).toBe(429);
    expect(shed.headers).toMatchObject({
      'Retry-After': String(lockAcquireAdmission.retryAfterSeconds),
    });
    expect(shed.jsonBody).toMatchObject({ error: { code: 'overloaded' } });
    // The webhook is not behind them.
    expect((await webhook('Events-424242')).status).toBe(202);
    const answers = await Promise.all(waiting);
    expect(answers.every((a) => a.status === 202)).toBe(true);
    expect(lockAcquireAdmission.active).toBe(0);
  }, 30_000);
});

describe('coordinator-lock.sh honours 429 Retry-After', () => {
  it('waits as long as asked and asks again with the same request id', async () => {
    const seen: { at: number; requestId: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({
          at: Date.now(),
          requestId: (JSON.parse(body) as { requestId: string }).requestId,
        });
        if (seen.length === 1) {
          res.writeHead(429, { 'content-type': 'application/json', 'Retry-After': '1' });
          res.end('{"error":{"code":"overloaded","message":"busy"}}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          '{"granted":true,"leaseId":"1.aaaaaaaaaaaaaaaaaaaaaaaa","fence":1,"expiresAt":"2026-12-02T00:00:00Z"}',
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(
        'bash',
        [resolve('infra/octopus/coordinator-lock.sh'), 'acquire', 'x', '--wait', '30'],
        { env: { ...process.env, COORDINATOR_URL: `http://127.0.0.1:${port}` } },
        (err, stdout, stderr) =>
          done({ code: err ? Number(err.code ?? 1) : 0, stdout: stdout.trim(), stderr }),
      );
    });
    server.close();
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('1.aaaaaaaaaaaaaaaaaaaaaaaa');
    expect(result.stderr).toMatch(/busy \(429\); retrying in 1s/);
    expect(seen).toHaveLength(2);
    expect(seen[1]?.requestId).toBe(seen[0]?.requestId);
  }, 30_000);
});
