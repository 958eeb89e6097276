import { describe, expect, it } from 'vitest';
import { loadRegistrations } from '../helpers/registrations.js';

describe('OpenAPI document', () => {
  it('lists exactly the HTTP operations the app registers, with the same auth level', async () => {
    const registrations = await loadRegistrations();
    const { operations, openApiDocument } = await import('../../functions/openapi.js');
    const registered = registrations
      .filter((r) => r.type === 'httpTrigger')
      .flatMap((r) => (r.methods ?? []).map((m) => `${m.toUpperCase()} ${r.route} ${r.authLevel}`))
      .sort();
    const documented = operations
      .map(
        (o) =>
          `${o.method.toUpperCase()} ${o.route} ${o.auth === 'anonymous' ? 'anonymous' : 'function'}`,
      )
      .sort();
    expect(documented).toEqual(registered);
    const doc = openApiDocument() as {
      paths: Record<string, Record<string, { requestBody?: unknown }>>;
    };
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
