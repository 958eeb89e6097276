// GET /api/reports/daily for a busy day: the page is sent as it is rendered (a stream, no
// Content-Length), byte for byte the page rendered whole.
import { HttpRequest, HttpResponse, InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOctopusSimulator, type OctopusSimulator } from '../../dev/octopus-sim/index.js';
import { dailyReportPage, STREAM_ABOVE_DEPLOYMENTS } from '../../functions/reports.js';
import { ManualClock } from '../../shared/clock.js';
import { parseCoordinationConfig } from '../../shared/config/loadCoordinationConfig.js';
import { jsonApi } from '../../shared/http/handler.js';
import { renderHtml } from '../../shared/report/renderHtml.js';
import { buildReportFor } from '../../shared/report/tick.js';
import { createRuntime, setRuntime } from '../../shared/runtime/runtime.js';
import { reportEnvironments, reportScenario, type DayEntry } from '../helpers/reportDay.js';

let sim: OctopusSimulator;
const deployments = STREAM_ABOVE_DEPLOYMENTS + 200;

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0 });
  const start = Date.parse('2026-11-20T00:00:00Z');
  const entries: DayEntry[] = Array.from({ length: deployments }, (_, i) => ({
    project: ['Database', 'Web API', 'Billing Worker'][i % 3] ?? 'Web API',
    release: `1.${i % 4}.0`,
    environment: reportEnvironments[i % 3] ?? 'Test',
    ...(i % 3 === 2 ? { tenant: i % 2 ? 'Acme Corp' : 'Globex' } : {}),
    ...(i % 20 === 7 ? { outcome: 'Failed' as const } : {}),
    completedAt: new Date(start + 60_000 + i * 60_000).toISOString(),
    durationSeconds: 30 + (i % 90),
  }));
  sim.loadScenario(reportScenario(entries, sim.now()));
  setRuntime(await runtime());
});

const runtime = () =>
  createRuntime({
    env: { OCTOPUS_URL: sim.url, OCTOPUS_API_KEY: sim.apiKey, REPORT_TIME_ZONE: 'UTC' },
    clock: new ManualClock('2026-11-21T08:00:00Z'),
    config: parseCoordinationConfig({ report: { recipients: ['ops@example.com'] } }),
  });

afterAll(async () => {
  setRuntime(undefined);
  await sim?.stop();
});

describe('GET /api/reports/daily for a busy day', () => {
  it('streams the page the whole render gives, with no Content-Length', async () => {
    const logged: string[] = [];
    const answer = await jsonApi(dailyReportPage)(
      new HttpRequest({ method: 'GET', url: 'http://localhost/api/reports/daily?date=2026-11-20' }),
      new InvocationContext({
        functionName: 'reportsDaily',
        logHandler: (level, ...args) => logged.push(`${level}: ${args.join(' ')}`),
      }),
    );
    // As the library's proxy sends it: its HttpResponse, read a chunk at a time.
    const response = answer instanceof HttpResponse ? answer : new HttpResponse(answer);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-length')).toBeNull();
    expect(answer).not.toBeInstanceOf(HttpResponse);
    expect((answer as { body?: unknown }).body).toBeInstanceOf(ReadableStream);
    const parts: Buffer[] = [];
    for await (const chunk of response.body?.values() ?? []) parts.push(Buffer.from(chunk));
    expect(parts.length).toBeGreaterThan(2);

    // The same day rendered whole, by a runtime of its own (so the same Octopus calls: no cache).
    const report = await buildReportFor(await runtime(), '2026-11-20', 'UTC');
    expect(report.totals.deployments).toBe(deployments);
    const whole = Buffer.from(renderHtml(report), 'utf8');
    expect(Buffer.concat(parts).equals(whole)).toBe(true);
    expect(logged.filter((l) => l.startsWith('error'))).toEqual([]);
  });
});
