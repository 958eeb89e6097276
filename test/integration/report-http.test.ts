// GET /api/reports/daily: the day's report as HTML; a bad date or zone is a 400 that says how to fix it.
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOctopusSimulator, type OctopusSimulator } from '../../dev/octopus-sim/index.js';
import { dailyReportPage } from '../../functions/reports.js';
import { ManualClock } from '../../shared/clock.js';
import { parseCoordinationConfig } from '../../shared/config/loadCoordinationConfig.js';
import { jsonApi } from '../../shared/http/handler.js';
import { createRuntime, setRuntime } from '../../shared/runtime/runtime.js';
import { reportScenario } from '../helpers/reportDay.js';

let sim: OctopusSimulator;
const handler = jsonApi(dailyReportPage);
const context = () =>
  new InvocationContext({ functionName: 'reportsDaily', logHandler: () => undefined });
const get = async (query: string): Promise<HttpResponseInit> =>
  (await handler(
    new HttpRequest({ method: 'GET', url: `http://localhost/api/reports/daily${query}` }),
    context(),
  )) as HttpResponseInit;

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0 });
  sim.loadScenario(
    reportScenario(
      [
        {
          project: 'Web API',
          release: '1.0.0',
          environment: 'Test',
          completedAt: '2026-11-20T10:00:00Z',
          durationSeconds: 60,
        },
      ],
      sim.now(),
    ),
  );
  setRuntime(
    await createRuntime({
      env: { OCTOPUS_URL: sim.url, OCTOPUS_API_KEY: sim.apiKey, REPORT_TIME_ZONE: 'Europe/Berlin' },
      clock: new ManualClock('2026-11-21T08:00:00Z'),
      config: parseCoordinationConfig({ report: { recipients: ['ops@example.com'] } }),
    }),
  );
});

afterAll(async () => {
  setRuntime(undefined);
  await sim?.stop();
});

describe('GET /api/reports/daily', () => {
  it('returns the HTML report of the date, yesterday by default', async () => {
    const response = await get('?date=2026-11-20');
    expect(response.status).toBe(200);
    expect(new Headers(response.headers as Record<string, string>).get('content-type')).toContain(
      'text/html',
    );
    expect(String(response.body)).toContain('Deployments on Friday, 20 November 2026');
    expect(String(response.body)).toContain('Web API');
    const yesterday = await get('');
    expect(String(yesterday.body)).toContain('Friday, 20 November 2026');
  });

  it('answers 400 with the fix for a bad date or zone', async () => {
    const date = await get('?date=2026-11-31');
    expect(date.status).toBe(400);
    expect(JSON.stringify(date.jsonBody)).toContain('is not a day of the calendar');
    const zone = await get('?date=2026-11-20&zone=Mars/Olympus');
    expect(zone.status).toBe(400);
    expect(JSON.stringify(zone.jsonBody)).toContain('IANA name such as Europe/Berlin');
  });
});
