// The report as email-safe HTML: 600 px tables, inline CSS, a bar chart made of table cells,
// no scripts and no images, failures first.
import { escapeHtml } from '../html/html.js';
import {
  capRows,
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
import type { DailyReport, HourBucket, ReportDeployment } from './model.js';

const FONT = "font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif";
const GREEN = '#2e7d32';
const RED = '#c62828';
const GREY = '#9e9e9e';
const WRAP = 'word-wrap:break-word;overflow-wrap:anywhere;word-break:break-word';
const CHART_HEIGHT = 80;

const e = escapeHtml;

function stat(label: string, value: string, change: string, color = '#222'): string {
  return (
    `<td width="25%" valign="top" style="width:25%;padding:8px 6px;border:1px solid #e3e6ea;${FONT};${WRAP}">` +
    `<div style="font-size:11px;color:#666;text-transform:uppercase;letter-spacing:.04em">${e(label)}</div>` +
    `<div style="font-size:20px;font-weight:bold;color:${color}">${e(value)}</div>` +
    `<div style="font-size:11px;color:#666">${change ? `${e(change)} vs day before` : '&nbsp;'}</div></td>`
  );
}

function totalsHtml(report: DailyReport): string {
  const t = report.totals;
  const p = report.previous;
  const row1 = [
    stat('Deployments', String(t.deployments), formatChange(t.deployments, p?.deployments)),
    stat('Succeeded', String(t.succeeded), formatChange(t.succeeded, p?.succeeded), GREEN),
    stat(
      'Failed',
      String(t.failed),
      formatChange(t.failed, p?.failed),
      t.failed > 0 ? RED : '#222',
    ),
    stat('Canceled', String(t.canceled), formatChange(t.canceled, p?.canceled)),
  ].join('');
  const row2 = [
    stat(
      'Success rate',
      formatRate(t.successRate),
      formatRateChange(t.successRate, p?.successRate),
    ),
    stat(
      'Median duration',
      formatDuration(t.medianDurationMs),
      formatDurationChange(t.medianDurationMs, p?.medianDurationMs),
    ),
    stat(
      'Longest',
      formatDuration(t.longestDurationMs),
      formatDurationChange(t.longestDurationMs, p?.longestDurationMs),
    ),
    stat('Day before', p ? String(p.deployments) : '–', ''),
  ].join('');
  return (
    `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="width:100%;table-layout:fixed;border-collapse:collapse">` +
    `<tr>${row1}</tr><tr>${row2}</tr></table>`
  );
}

function bar(height: number, color: string): string {
  if (height <= 0) return '';
  return `<tr><td height="${height}" style="height:${height}px;background:${color};font-size:0;line-height:0">&nbsp;</td></tr>`;
}

/** Deployments per hour: one column per hour, failed stacked on succeeded, heights in pixels. */
function chartHtml(hours: HourBucket[]): string {
  const max = Math.max(1, ...hours.map((h) => h.succeeded + h.failed + h.other));
  const scale = (n: number): number =>
    n === 0 ? 0 : Math.max(2, Math.round((n / max) * CHART_HEIGHT));
  // Column width including 1 px padding each side, so the columns never add up to more than 560 px.
  const width = Math.floor(560 / Math.max(1, hours.length));
  const barWidth = width - 2;
  const columns = hours
    .map((h) => {
      const total = h.succeeded + h.failed + h.other;
      const title = `${h.label}:00 – ${h.succeeded} succeeded, ${h.failed} failed${h.other ? `, ${h.other} other` : ''}`;
      const stack =
        total === 0
          ? ''
          : bar(scale(h.failed), RED) + bar(scale(h.other), GREY) + bar(scale(h.succeeded), GREEN);
      return (
        `<td width="${barWidth}" valign="bottom" title="${e(title)}" style="width:${barWidth}px;height:${CHART_HEIGHT}px;padding:0 1px;vertical-align:bottom">` +
        (stack
          ? `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="width:100%;border-collapse:collapse">${stack}</table>`
          : '&nbsp;') +
        `</td>`
      );
    })
    .join('');
  const labels = hours
    .map(
      (h) =>
        `<td width="${width}" align="center" style="width:${width}px;padding:2px 0 0;font-size:9px;color:#666;${FONT}">${e(h.label)}</td>`,
    )
    .join('');
  return (
    `<table role="presentation" width="560" cellpadding="0" cellspacing="0" style="width:560px;max-width:100%;table-layout:fixed;border-collapse:collapse;border-bottom:1px solid #bbb">` +
    `<tr>${columns}</tr></table>` +
    `<table role="presentation" width="560" cellpadding="0" cellspacing="0" style="width:560px;max-width:100%;table-layout:fixed;border-collapse:collapse"><tr>${labels}</tr></table>` +
    `<p style="margin:6px 0 0;font-size:11px;color:#666;${FONT}">` +
    `<span style="color:${GREEN}">&#9632;</span> succeeded &nbsp; <span style="color:${RED}">&#9632;</span> failed &nbsp; <span style="color:${GREY}">&#9632;</span> canceled/other &nbsp; by the local hour each deployment finished</p>`
  );
}

function where(d: ReportDeployment): string {
  return [d.project, d.environment, d.tenant, d.version]
    .filter((x): x is string => !!x)
    .join(' · ');
}

function moreLink(options: RenderOptions): string {
  return options.fullReportUrl
    ? ` <a href="${e(options.fullReportUrl)}" style="color:#1565c0">Open the full report</a>.`
    : ' Run the report command of the coordinator CLI for the full list.';
}

function failuresHtml(report: DailyReport, options: RenderOptions): string {
  if (report.failures.length === 0) return '';
  const shown = report.failures.slice(0, options.maxFailures ?? report.failures.length);
  const hidden = report.failures.length - shown.length;
  const items = shown
    .map(
      (d) =>
        `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" class="failure" style="width:100%;table-layout:fixed;border-collapse:collapse;margin:0 0 8px">` +
        `<tr><td style="padding:8px 10px;border-left:4px solid ${RED};background:#fdecea;${FONT};font-size:13px;color:#222;${WRAP}">` +
        `<div style="font-weight:bold">${e(where(d))}</div>` +
        `<div style="margin:4px 0;color:${RED}">${e(outcomeLabel(d.outcome, d.state))}: ${e(d.error || 'Octopus recorded no error message.')}</div>` +
        `<div style="color:#555;font-size:12px">Started by ${e(d.deployedBy)} at ${e(localTime(d.started, report.zone))}, ran ${e(formatDuration(d.durationMs))}` +
        (d.taskUrl
          ? ` · <a href="${e(d.taskUrl)}" style="color:#1565c0">open the task in Octopus</a>`
          : '') +
        `</div></td></tr></table>`,
    )
    .join('');
  const more =
    hidden > 0
      ? `<p style="margin:4px 0 0;font-size:12px;color:#555">${hidden} more failure${hidden === 1 ? ' is' : 's are'} not listed here to keep this email small.${moreLink(options)}</p>`
      : '';
  return section('failures', `Failures (${report.failures.length})`, items + more);
}

function section(id: string, title: string, body: string): string {
  return (
    `<tr><td id="${id}" style="padding:16px 20px 4px;${FONT}">` +
    `<h2 style="margin:0 0 8px;font-size:16px;color:#222">${e(title)}</h2>${body}</td></tr>`
  );
}

// Content widths; with 4 px padding each side the six columns fill exactly 560 px.
const CELL_PADDING = 4;
const COLS: [string, number][] = [
  ['Project / version', 162],
  ['Tenant', 82],
  ['Started', 42],
  ['Duration', 62],
  ['By', 87],
  ['Outcome', 77],
];

function outcomeColor(d: ReportDeployment): string {
  if (d.outcome === 'Success') return GREEN;
  if (d.outcome === 'Failed' || d.outcome === 'TimedOut') return RED;
  return '#555';
}

function groupsHtml(report: DailyReport, options: RenderOptions): string {
  const { listed, omitted } = capRows(report.groups, options.maxRows);
  // Font, size and wrapping come from the table: rows stay small so a busy day's email stays small.
  const cell = 'border-bottom:1px solid #eee';
  const head = COLS.map(
    ([name, w]) =>
      `<th width="${w}" align="left" style="width:${w}px;font-size:11px;color:#666;border-bottom:1px solid #ccc">${e(name)}</th>`,
  ).join('');
  const parts = report.groups.map((env) => {
    const rows: string[] = [];
    for (const project of env.projects) {
      rows.push(
        `<tr><td colspan="6" style="padding-top:8px;font-size:13px"><b>${e(project.project)}</b>` +
          ` <span style="color:#666;font-size:12px">${project.deployments.length} deployed, ${project.succeeded} succeeded${project.failed ? `, <span style="color:${RED}">${project.failed} failed</span>` : ''}</span></td></tr>`,
      );
      for (const d of listed(project)) {
        rows.push(
          `<tr valign="top">` +
            `<td style="${cell}">${e(d.version || '–')}</td>` +
            `<td style="${cell}">${e(d.tenant ?? '')}</td>` +
            `<td style="${cell}">${e(localTime(d.started, report.zone))}</td>` +
            `<td style="${cell}">${e(formatDuration(d.durationMs))}</td>` +
            `<td style="${cell}">${e(d.deployedBy)}</td>` +
            `<td style="${cell};color:${outcomeColor(d)}">` +
            (d.taskUrl
              ? `<a href="${e(d.taskUrl)}" style="color:${outcomeColor(d)}">${e(outcomeLabel(d.outcome, d.state))}</a>`
              : e(outcomeLabel(d.outcome, d.state))) +
            `</td></tr>`,
        );
      }
    }
    return (
      `<h3 style="margin:14px 0 4px;font-size:14px;color:#222;${FONT}">${e(env.environment)} <span style="font-weight:normal;color:#666;font-size:12px">(${env.count})</span></h3>` +
      `<table role="presentation" width="560" cellpadding="${CELL_PADDING}" cellspacing="0" style="width:560px;max-width:100%;table-layout:fixed;border-collapse:collapse;font-size:12px;${FONT};${WRAP}">` +
      `<tr>${head}</tr>${rows.join('')}</table>`
    );
  });
  if (omitted > 0) {
    const link = moreLink(options);
    parts.push(
      `<p style="margin:10px 0 0;font-size:12px;color:#555;${FONT}">${omitted} more deployment${omitted === 1 ? ' is' : 's are'} not listed here to keep this email small; the totals and chart above count them.${link}</p>`,
    );
  }
  return section('by-environment', 'By environment and project', parts.join(''));
}

export function renderHtml(report: DailyReport, options: RenderOptions = {}): string {
  const t = report.totals;
  const title = `Deployments on ${longDate(report.date)}`;
  const header =
    `<tr><td style="padding:20px 20px 8px;${FONT}">` +
    `<h1 style="margin:0;font-size:20px;color:#222">${e(title)}</h1>` +
    `<p style="margin:4px 0 0;font-size:12px;color:#666;${WRAP}">${e(report.zone)}, ${report.window.hours} hours` +
    `${report.window.hours !== 24 ? ' (clocks changed)' : ''} · ${e(report.scope)}</p></td></tr>`;
  const body =
    t.deployments === 0
      ? section(
          'empty',
          'No deployments',
          `<p style="margin:0;font-size:14px;color:#222">No deployments finished on ${e(longDate(report.date))} (${e(report.zone)}) in ${e(report.scope)}.` +
            (report.previous ? ` The day before had ${report.previous.deployments}.` : '') +
            `</p>`,
        )
      : [
          `<tr><td id="totals" style="padding:8px 20px">${totalsHtml(report)}</td></tr>`,
          failuresHtml(report, options),
          section('chart', 'Deployments per hour', chartHtml(report.hours)),
          groupsHtml(report, options),
        ].join('');
  const notes =
    report.notes.length > 0
      ? `<tr><td style="padding:8px 20px;font-size:12px;color:#8a6d00;${FONT};${WRAP}">${report.notes.map((n) => `<p style="margin:0 0 4px">${e(n)}</p>`).join('')}</td></tr>`
      : '';
  const footer =
    `<tr><td style="padding:12px 20px 20px;font-size:11px;color:#888;${FONT}">` +
    `Generated ${e(report.generatedAt.toISOString().replace('T', ' ').slice(0, 16))} UTC by Octopus Coordinator from ${report.octopusCalls} Octopus requests.</td></tr>`;
  return (
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${e(title)}</title></head>` +
    `<body style="margin:0;padding:0;background:#f4f5f7">` +
    `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="width:100%;background:#f4f5f7"><tr><td align="center" style="padding:12px 0">` +
    `<table id="report" role="presentation" width="600" cellpadding="0" cellspacing="0" style="width:600px;max-width:600px;table-layout:fixed;border-collapse:collapse;background:#ffffff">` +
    header +
    body +
    notes +
    footer +
    `</table></td></tr></table></body></html>`
  );
}
