import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { readQuery } from '../shared/http/body.js';
import { commonResponses, registerRoutes, type RouteDeclaration } from '../shared/http/routes.js';
import { parseReportDate, parseTimeZone, ReportDateError } from '../shared/report/dayWindow.js';
import { getRuntime } from '../shared/runtime/runtime.js';
import { addDays, localDateOf } from '../shared/time/zones.js';

function checked(parse: (value: string) => string) {
  return z.string().transform((value, ctx) => {
    try {
      return parse(value);
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        message: err instanceof ReportDateError ? err.message : String(err),
      });
      return z.NEVER;
    }
  });
}

export const dailyReportQuery = z.object({
  date: checked(parseReportDate).optional(),
  zone: checked(parseTimeZone).optional(),
});

/** GET /api/reports/daily?date=YYYY-MM-DD[&zone=…]: the day's full report as HTML (default: yesterday). */
export async function dailyReportPage(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  // The report builder is loaded on first use rather than at start (cold start).
  const [{ buildReportFor }, { renderHtml }] = await Promise.all([
    import('../shared/report/tick.js'),
    import('../shared/report/renderHtml.js'),
  ]);
  const { date, zone } = readQuery(request, dailyReportQuery);
  const runtime = await getRuntime();
  const reportZone = zone ?? runtime.settings.report.timeZone;
  const day = date ?? addDays(localDateOf(runtime.clock.now(), reportZone), -1);
  const report = await buildReportFor(runtime, day, reportZone);
  return {
    status: 200,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
    body: renderHtml(report),
  };
}

export const routes: RouteDeclaration[] = [
  {
    name: 'reportsDaily',
    method: 'GET',
    route: 'reports/daily',
    auth: 'function',
    query: dailyReportQuery,
    produces: 'text/html',
    summary: 'The daily deployment report for a date, as HTML',
    responses: { '200': 'The report', ...commonResponses },
    handler: dailyReportPage,
  },
];
registerRoutes(routes);
