import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { escapeHtml } from '../shared/html/html.js';
import { readQuery } from '../shared/http/body.js';
import { redactedError } from '../shared/http/handler.js';
import { chunkedBody } from '../shared/http/stream.js';
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
  context: InvocationContext,
): Promise<HttpResponseInit> {
  // The report builder is loaded on first use rather than at start (cold start).
  const [{ buildReportFor }, { renderHtml, renderHtmlChunks }] = await Promise.all([
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
    // No Content-Length either way: with HTTP streaming the library sends every body chunked.
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
    body:
      report.totals.deployments > STREAM_ABOVE_DEPLOYMENTS
        ? chunkedBody(renderHtmlChunks(report), {
            failedText: () => stoppedNote(context.invocationId),
            onError: (err) =>
              context.error(
                `The daily report failed after its first part was sent; the reader sees where it stopped: ${redactedError(err)}`,
              ),
          })
        : renderHtml(report),
  };
}

/**
 * Above this many deployments the page (about 480 bytes a row) is sent as it is rendered, a batch
 * of rows at a time (`renderHtmlChunks`), instead of being built whole first: at 50,000 the whole
 * page is an 11-million-character string built from about 11 MB of row strings.
 */
export const STREAM_ABOVE_DEPLOYMENTS = 1000;

/**
 * Ends a page whose render failed after its first chunk was sent (the 200 is out by then; see
 * `chunkedBody`). Wherever the page stopped, a browser shows this in red.
 */
export function stoppedNote(invocationId: string): string {
  return `<p style="margin:12px 0;font:bold 14px sans-serif;color:#c62828">The report stops here: the coordinator failed while writing it. Its log has the error under invocation ${escapeHtml(invocationId)}.</p>`;
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
