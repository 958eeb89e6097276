import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileRoute, FunctionHost } from '../../dev/functionHost.js';

const fixtureRoot = resolve('test/fixtures/timer-app');

describe('route templates', () => {
  it('matches parameters, optional parts, constraints and catch-alls like the Functions host', () => {
    const r = compileRoute('api/locks/{name}/acquire');
    expect(r.pattern.exec('/api/locks/db%2Fprod/acquire')?.[1]).toBe('db%2Fprod');
    expect(r.pattern.test('/api/locks/a/b/acquire')).toBe(false);
    const opt = compileRoute('api/status/{set?}');
    expect(opt.pattern.test('/api/status')).toBe(true);
    expect(opt.pattern.exec('/api/status/web')?.[1]).toBe('web');
    expect(compileRoute('api/items/{id:int}').pattern.test('/api/items/abc')).toBe(false);
    expect(compileRoute('api/files/{*path}').pattern.exec('/api/files/a/b/c')?.[1]).toBe('a/b/c');
  });
});

describe('dev host with a fixture app', () => {
  let host: FunctionHost;
  beforeAll(async () => {
    host = new FunctionHost({
      appRoot: fixtureRoot,
      port: 0,
      env: { TICK_SCHEDULE: '* * * * * *' },
      functionKey: 'test-key',
      log: () => {},
    });
    await host.load();
    await host.start();
  });
  afterAll(() => host.stop());

  it('captures the registrations the app makes, with %SETTING% schedules resolved', () => {
    expect(host.http.map((f) => f.route)).toEqual(['/api/echo/fixed', '/api/echo/{name}/{rest?}']);
    expect(host.timers).toMatchObject([{ name: 'tick', schedule: '* * * * * *' }]);
  });

  it('fires a timer on its schedule, through the library, with the timer object', async () => {
    const ticks = (
      globalThis as unknown as { fixtureTicks: { isPastDue: boolean; invocationId: string }[] }
    ).fixtureTicks;
    const deadline = Date.now() + 5000;
    while (ticks.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(ticks.length).toBeGreaterThanOrEqual(2);
    expect(ticks[0]?.isPastDue).toBe(false);
    expect(new Set(ticks.map((t) => t.invocationId)).size).toBe(ticks.length);
    expect(
      host.invocations.some((i) => i.name === 'tick' && i.kind === 'timer' && i.outcome === 'ok'),
    ).toBe(true);
  });

  it('serves HTTP functions on their routes, with params, query, body and status', async () => {
    const res = await fetch(`${host.url}/api/echo/web%20api/x?q=1&code=test-key`, {
      method: 'POST',
      body: 'hello',
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ name: 'web api', rest: 'x', q: '1', body: 'hello' });
    expect(await (await fetch(`${host.url}/api/echo/fixed`)).text()).toBe(
      'fixed route wins over {name}',
    );
  });

  it('asks for the function key when one is set, and answers 404/405 for unknown routes and methods', async () => {
    expect((await fetch(`${host.url}/api/echo/a`)).status).toBe(401);
    expect(
      (await fetch(`${host.url}/api/echo/a`, { headers: { 'x-functions-key': 'test-key' } }))
        .status,
    ).toBe(201);
    expect((await fetch(`${host.url}/api/nothing`)).status).toBe(404);
    expect((await fetch(`${host.url}/api/echo/fixed`, { method: 'DELETE' })).status).toBe(405);
  });

  it('runs a timer now through the admin endpoint, as Azure does', async () => {
    const before = host.invocations.filter((i) => i.name === 'tick').length;
    const res = await fetch(`${host.url}/admin/functions/tick`, {
      method: 'POST',
      body: '{"input":""}',
    });
    expect(res.status).toBe(202);
    const deadline = Date.now() + 3000;
    while (
      host.invocations.filter((i) => i.name === 'tick').length <= before &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(host.invocations.filter((i) => i.name === 'tick').length).toBeGreaterThan(before);
    expect((await fetch(`${host.url}/admin/functions/nope`, { method: 'POST' })).status).toBe(404);
  });
});
