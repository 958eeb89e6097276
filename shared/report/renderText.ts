// The report as plain text: the same facts as the HTML part, for clients that show text only.
import {
  ChunkBuffer,
  formatChange,
  formatDuration,
  formatDurationChange,
  formatRate,
  formatRateChange,
  localTime,
  longDate,
  outcomeLabel,
  type RenderOptions,
} from './format.js';
import type { DailyReport } from './model.js';
import { emailListing, omittedSentence } from './renderHtml.js';

function withChange(value: string, change: string): string {
  return change ? `${value} (${change} vs day before)` : value;
}

export function renderText(report: DailyReport, options: RenderOptions = {}): string {
  return [...renderTextChunks(report, options, Number.POSITIVE_INFINITY)].join('');
}

/** Deployment lines per chunk of `renderTextChunks`. */
export const LINES_PER_CHUNK = 1000;

/**
 * The same text as `renderText`, as chunks of whole lines (each ending in a newline), the
 * deployments `linesPerChunk` at a time: the CLI prints the full report this way.
 */
export function* renderTextChunks(
  report: DailyReport,
  options: RenderOptions = {},
  linesPerChunk = LINES_PER_CHUNK,
): Generator<string, void, undefined> {
  const t = report.totals;
  const p = report.previous;
  const lines = new ChunkBuffer(linesPerChunk, (parts) => `${parts.join('\n')}\n`);
  lines.push(`Deployments on ${longDate(report.date)}`);
  lines.push(
    `${report.zone}, ${report.window.hours} hours${report.window.hours !== 24 ? ' (clocks changed)' : ''} · ${report.scope}`,
  );
  lines.push('');
  const listing = emailListing(report, options);
  if (t.deployments === 0) {
    lines.push(
      `No deployments finished on ${longDate(report.date)} (${report.zone}) in ${report.scope}.`,
    );
    if (p) lines.push(`The day before had ${p.deployments}.`);
  } else {
    lines.push(
      `Deployments:     ${withChange(String(t.deployments), formatChange(t.deployments, p?.deployments))}`,
    );
    lines.push(
      `Succeeded:       ${withChange(String(t.succeeded), formatChange(t.succeeded, p?.succeeded))}`,
    );
    lines.push(
      `Failed:          ${withChange(String(t.failed), formatChange(t.failed, p?.failed))}`,
    );
    lines.push(
      `Canceled:        ${withChange(String(t.canceled), formatChange(t.canceled, p?.canceled))}`,
    );
    lines.push(
      `Success rate:    ${withChange(formatRate(t.successRate), formatRateChange(t.successRate, p?.successRate))}`,
    );
    lines.push(
      `Median duration: ${withChange(formatDuration(t.medianDurationMs), formatDurationChange(t.medianDurationMs, p?.medianDurationMs))}`,
    );
    lines.push(
      `Longest:         ${withChange(formatDuration(t.longestDurationMs), formatDurationChange(t.longestDurationMs, p?.longestDurationMs))}`,
    );

    if (report.failures.length > 0) {
      lines.push('', `FAILURES (${report.failures.length})`);
      const shown = listing.failures;
      for (const d of shown) {
        lines.push('');
        lines.push(
          `* ${[d.project, d.environment, d.tenant, d.version].filter((x) => !!x).join(' · ')}`,
        );
        lines.push(
          `  ${outcomeLabel(d.outcome, d.state)}: ${d.error || 'Octopus recorded no error message.'}`,
        );
        lines.push(
          `  Started by ${d.deployedBy} at ${localTime(d.started, report.zone)}, ran ${formatDuration(d.durationMs)}`,
        );
        if (d.taskUrl) lines.push(`  ${d.taskUrl}`);
        const chunk = lines.item();
        if (chunk !== undefined) yield chunk;
      }
      const hidden = report.failures.length - shown.length;
      if (hidden > 0) {
        lines.push(
          '',
          `${hidden} more failures are not listed to keep this email small.${options.fullReportUrl ? ` Full report: ${options.fullReportUrl}` : ''}`,
        );
      }
    }

    lines.push('', 'PER HOUR (finished; succeeded/failed/other)');
    lines.push(
      report.hours
        .filter((h) => h.succeeded + h.failed + h.other > 0)
        .map((h) => `${h.label}h ${h.succeeded}/${h.failed}/${h.other}`)
        .join('  '),
    );

    lines.push('', 'BY ENVIRONMENT AND PROJECT');
    for (const env of report.groups) {
      if (!env.projects.some(listing.shown)) continue;
      lines.push('', `${env.environment} (${env.count})`);
      for (const project of env.projects) {
        if (!listing.shown(project)) continue;
        lines.push(
          `  ${project.project}: ${project.deployments.length} deployed, ${project.succeeded} succeeded${project.failed ? `, ${project.failed} failed` : ''}`,
        );
        for (const d of listing.listed(project)) {
          const tenant = d.tenant ? ` for ${d.tenant}` : '';
          lines.push(
            `    ${d.version || '–'}${tenant} · ${localTime(d.started, report.zone)} · ${formatDuration(d.durationMs)} · ${d.deployedBy} · ${outcomeLabel(d.outcome, d.state)}`,
          );
          const chunk = lines.item();
          if (chunk !== undefined) yield chunk;
        }
      }
    }
    if (listing.omitted > 0) {
      lines.push(
        '',
        omittedSentence(listing) +
          (options.fullReportUrl ? ` Full report: ${options.fullReportUrl}` : ''),
      );
    }
  }
  if (report.notes.length > 0) lines.push('', ...report.notes.map((n) => `Note: ${n}`));
  lines.push(
    '',
    `Generated ${report.generatedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC by Octopus Coordinator from ${report.octopusCalls} Octopus requests.`,
  );
  yield lines.take();
}
