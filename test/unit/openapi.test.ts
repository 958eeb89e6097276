import { describe, expect, it } from 'vitest';
import { loadRegistrations } from '../helpers/registrations.js';

/** `{set?}` is an optional segment in an Azure route; the document has a path with and without it. */
function pathsOf(route: string): string[] {
  const optional = /\/\{(\w+)\?\}$/.exec(route);
  if (!optional) return [`/api/${route}`];
  const base = route.slice(0, optional.index);
  return [`/api/${base}`, `/api/${base}/{${optional[1]}}`];
}

/** The Azure auth level a documented operation needs, from its security requirements. */
function authLevelOf(security: unknown[]): string {
  if (security.length === 0) return 'anonymous';
  return JSON.stringify(security).includes('masterKey') ? 'admin' : 'function';
}

describe('OpenAPI document', () => {
  it('documents exactly the HTTP routes the app registers, with the same auth level', async () => {
    const registrations = await loadRegistrations();
    const { openApiDocument } = await import('../../functions/openapi.js');
    const registered = registrations
      .filter((r) => r.type === 'httpTrigger')
      .flatMap((r) =>
        (r.methods ?? []).flatMap((m) =>
          pathsOf(r.route ?? '').map((path) => `${m.toUpperCase()} ${path} ${r.authLevel}`),
        ),
      )
      .sort();
    const doc = openApiDocument() as {
      paths: Record<string, Record<string, { security?: unknown[]; requestBody?: unknown }>>;
    };
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) =>
        Object.entries(ops).map(
          ([method, op]) => `${method.toUpperCase()} ${path} ${authLevelOf(op.security ?? [])}`,
        ),
      )
      .sort();
    expect(registered.length).toBeGreaterThan(15);
    // A route registered by hand (app.http) rather than from its declaration, or a file whose
    // `routes` functions/openapi.ts does not list, shows up here.
    expect(documented).toEqual(registered);
    expect(Object.keys(doc.paths)).toContain('/api/locks/{name}/acquire');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/status', '/api/status/{set}']),
    );
    expect(doc.paths['/api/runs']?.post?.requestBody).toMatchObject({
      content: {
        'application/json': {
          schema: { type: 'object', properties: { playbook: {}, promotion: {}, dryRun: {} } },
        },
      },
    });
  });

  it('names every route once, as the Function it registers', async () => {
    const registrations = await loadRegistrations();
    const { allRoutes } = await import('../../functions/openapi.js');
    const names = allRoutes().map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    const http = registrations.filter((r) => r.type === 'httpTrigger');
    expect(names.sort()).toEqual(http.map((r) => r.name).sort());
    for (const route of allRoutes()) {
      const reg = http.find((r) => r.name === route.name);
      expect(reg, route.name).toMatchObject({ route: route.route, methods: [route.method] });
    }
  });

  it('gives every timer a schedule that is an app setting or a literal NCRONTAB', async () => {
    const timers = (await loadRegistrations()).filter((r) => r.type === 'timerTrigger');
    expect(timers.map((t) => t.name).sort()).toEqual([
      'dailyReport',
      'scheduledPromotion',
      'statusPoll',
    ]);
    for (const t of timers) expect(t.schedule).toMatch(/^(%[A-Z_]+%|(\S+\s+){5}\S+)$/);
  });
});
