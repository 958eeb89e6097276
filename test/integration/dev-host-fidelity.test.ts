// The dev host must not be kinder than the real Functions host:
// - a timer is past due only when its recorded next occurrence passed while the host was down (one run
//   at start with isPastDue true); a scheduled occurrence is never past due;
// - route values are percent-decoded except %2F, which stays encoded (ASP.NET Core routing);
// - without HTTP streaming a Node function gets an empty body for a chunked request.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeRouteValue, FunctionHost } from '../../dev/functionHost.js';

const fixtureRoot = resolve('test/fixtures/timer-app');
type Tick = { isPastDue: boolean; invocationId: string };
const ticks = (): Tick[] => (globalThis as unknown as { fixtureTicks?: Tick[] }).fixtureTicks ?? [];

describe('route values', () => {
  it('are decoded except %2F, as the real host hands them over', () => {
    expect(decodeRouteValue('db%2Fprod')).toBe('db%2Fprod');
    expect(decodeRouteValue('db%2fprod')).toBe('db%2fprod');
    expect(decodeRouteValue('web%20api%2Fa%25b')).toBe('web api%2Fa%b');
    expect(() => decodeRouteValue('%E0%A4%A')).toThrow();
  });
});

describe('dev host timers and requests', () => {
  let host: FunctionHost;
  let dir: string;
  let statusFile: string;
  const missed = new Date(Date.now() - 3 * 3600_000).toISOString();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'devhost-fidelity-'));
    statusFile = join(dir, 'timer-status.json');
    // As if the host had been stopped for three hours across a scheduled occurrence.
    writeFileSync(
      statusFile,
      JSON.stringify({ tick: { last: missed, next: missed, lastUpdated: missed } }),
    );
    host = new FunctionHost({
      appRoot: fixtureRoot,
      port: 0,
      // Once a year: no scheduled occurrence comes during the test.
      env: { TICK_SCHEDULE: '0 0 0 1 1 *' },
      timerStatusFile: statusFile,
      log: () => {},
    });
    await host.load();
    await host.start();
  });

  afterAll(async () => {
    await host.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a missed occurrence once at start with isPastDue, then records the next one', async () => {
    const deadline = Date.now() + 5000;
    while (ticks().length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    expect(ticks().map((t) => t.isPastDue)).toEqual([true]);
    const status = JSON.parse(readFileSync(statusFile, 'utf8')) as Record<string, { next: string }>;
    expect(new Date(status.tick?.next ?? 0).getTime()).toBeGreaterThan(Date.now());
  });

  it('passes isPastDue false for a run that is not a missed occurrence, however it starts', async () => {
    const timer = host.timer('tick');
    if (!timer) throw new Error('fixture timer missing');
    await host.fireTimer(timer, new Date(Date.now() - 60_000));
    expect(ticks().at(-1)?.isPastDue).toBe(false);
  });

  it('keeps %2F encoded in a route value and decodes the rest', async () => {
    const res = await fetch(`${host.url}/api/echo/db%2Fprod%20eu/x`, { method: 'POST', body: '' });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { name: string }).name).toBe('db%2Fprod eu');
  });

  it('hands the function an empty body for a chunked request, and the body for a sized one', async () => {
    const send = (chunked: boolean) =>
      new Promise<string>((resolveBody, reject) => {
        const url = new URL(`${host.url}/api/echo/a`);
        const req = httpRequest(
          {
            host: url.hostname,
            port: url.port,
            path: url.pathname,
            method: 'POST',
            headers: chunked ? {} : { 'content-length': '5' },
          },
          (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c.toString()));
            res.on('end', () => resolveBody((JSON.parse(text) as { body: string }).body));
          },
        );
        req.on('error', reject);
        if (chunked) {
          req.write('hel');
          req.end('lo');
        } else req.end('hello');
      });
    expect(await send(false)).toBe('hello');
    expect(await send(true)).toBe('');
  });
});
