// The report as email-safe HTML: 600 px tables, one <style> block for what repeats (mail clients that
// drop it still get the layout from table attributes), a bar chart made of table cells, no scripts and
// no images, failures first. An email is capped by its rendered size (see `emailListing`).
import { escapeHtml } from '../html/html.js';
import {
  capRows,
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
import type { DailyReport, HourBucket, ProjectGroup, ReportDeployment } from './model.js';

const FONT = "font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif";
const GREEN = '#2e7d32';
const RED = '#c62828';
const GREY = '#9e9e9e';
const LINK = '#1565c0';
const WRAP = 'word-wrap:break-word;overflow-wrap:anywhere;word-break:break-word';
const CHART_HEIGHT = 80;

/**
 * Styles of the parts that repeat (rows, failures, stats), once. Gmail, Apple Mail, Outlook and
 * most webmail honour a <style> block in the head; table attributes (width, cellpadding, align)
 * keep the layout where it is dropped. Gmail ignores a block over 16 KB: this one is under 2 KB.
 */
const STYLE =
  `body{margin:0;padding:0;background:#f4f5f7}` +
  `.f,.f td,.f th,h1,h2,h3,p{${FONT}}` +
  `.w{${WRAP}}` +
  `.st{width:25%;padding:8px 6px;border:1px solid #e3e6ea;${FONT};${WRAP}}` +
  `.sl{font-size:11px;color:#666;text-transform:uppercase;letter-spacing:.04em}` +
  `.sv{font-size:20px;font-weight:bold;color:#222}` +
  `.sc{font-size:11px;color:#666}` +
  `.failure{width:100%;table-layout:fixed;border-collapse:collapse;margin:0 0 8px}` +
  `.failure td{padding:8px 10px;border-left:4px solid ${RED};background:#fdecea;${FONT};font-size:13px;color:#222;${WRAP}}` +
  `.fw{font-weight:bold}.fe{margin:4px 0;color:${RED}}.fm{color:#555;font-size:12px}` +
  `a{color:${LINK}}` +
  `.g{width:560px;max-width:100%;table-layout:fixed;border-collapse:collapse;font-size:12px;${FONT};${WRAP}}` +
  `.g th{font-size:11px;color:#666;border-bottom:1px solid #ccc;text-align:left}` +
  `.g td{border-bottom:1px solid #eee}` +
  `.g td.p{border-bottom:0;padding-top:8px;font-size:13px}` +
  `.n{color:#666;font-size:12px}` +
  `.ok,.ok a{color:${GREEN}}.bad,.bad a{color:${RED}}.oth,.oth a{color:#555}` +
  `.more{margin:10px 0 0;font-size:12px;color:#555}`;

const e = escapeHtml;

function stat(label: string, value: string, change: string, color?: string): string {
  return (
    `<td width="25%" valign="top" class="st">` +
    `<div class="sl">${e(label)}</div>` +
    `<div class="sv"${color ? ` style="color:${color}"` : ''}>${e(value)}</div>` +
    `<div class="sc">${change ? `${e(change)} vs day before` : '&nbsp;'}</div></td>`
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
      t.failed > 0 ? RED : undefined,
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
  return `<tr><td height="${height}" bgcolor="${color}" style="height:${height}px;background:${color};font-size:0;line-height:0">&nbsp;</td></tr>`;
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
        `<td width="${width}" align="center" style="width:${width}px;padding:2px 0 0;font-size:9px;color:#666">${e(h.label)}</td>`,
    )
    .join('');
  return (
    `<table role="presentation" width="560" cellpadding="0" cellspacing="0" style="width:560px;max-width:100%;table-layout:fixed;border-collapse:collapse;border-bottom:1px solid #bbb">` +
    `<tr>${columns}</tr></table>` +
    `<table role="presentation" width="560" cellpadding="0" cellspacing="0" class="f" style="width:560px;max-width:100%;table-layout:fixed;border-collapse:collapse"><tr>${labels}</tr></table>` +
    `<p style="margin:6px 0 0;font-size:11px;color:#666">` +
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
    ? ` <a href="${e(options.fullReportUrl)}">Open the full report</a>.`
    : ' Run the report command of the coordinator CLI for the full list.';
}

function failureHtml(d: ReportDeployment, zone: string): string {
  return (
    `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" class="failure">` +
    `<tr><td bgcolor="#fdecea">` +
    `<div class="fw">${e(where(d))}</div>` +
    `<div class="fe">${e(outcomeLabel(d.outcome, d.state))}: ${e(d.error || 'Octopus recorded no error message.')}</div>` +
    `<div class="fm">Started by ${e(d.deployedBy)} at ${e(localTime(d.started, zone))}, ran ${e(formatDuration(d.durationMs))}` +
    (d.taskUrl ? ` · <a href="${e(d.taskUrl)}">open the task in Octopus</a>` : '') +
    `</div></td></tr></table>`
  );
}

/** After the listed failures: how many are not listed, and the section's end. */
function failuresEnd(report: DailyReport, listing: EmailListing, options: RenderOptions): string {
  const hidden = report.failures.length - listing.failures.length;
  const more =
    hidden > 0
      ? `<p class="more">${hidden} more failure${hidden === 1 ? ' is' : 's are'} not listed here to keep this email small.${moreLink(options)}</p>`
      : '';
  return more + SECTION_END;
}

function sectionStart(id: string, title: string): string {
  return (
    `<tr><td id="${id}" class="f" style="padding:16px 20px 4px">` +
    `<h2 style="margin:0 0 8px;font-size:16px;color:#222">${e(title)}</h2>`
  );
}
const SECTION_END = '</td></tr>';

function section(id: string, title: string, body: string): string {
  return sectionStart(id, title) + body + SECTION_END;
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
const HEAD = COLS.map(([name, w]) => `<th width="${w}" align="left">${e(name)}</th>`).join('');

function outcomeClass(d: ReportDeployment): string {
  if (d.outcome === 'Success') return 'ok';
  if (d.outcome === 'Failed' || d.outcome === 'TimedOut') return 'bad';
  return 'oth';
}

function environmentHtml(environment: string, count: number): string {
  return (
    `<h3 style="margin:14px 0 4px;font-size:14px;color:#222">${e(environment)} <span class="n" style="font-weight:normal">(${count})</span></h3>` +
    `<table role="presentation" width="560" cellpadding="${CELL_PADDING}" cellspacing="0" class="g">` +
    `<tr>${HEAD}</tr>`
  );
}
const ENVIRONMENT_END = '</table>';

function projectHtml(project: ProjectGroup): string {
  return (
    `<tr><td colspan="6" class="p"><b>${e(project.project)}</b>` +
    ` <span class="n">${project.deployments.length} deployed, ${project.succeeded} succeeded${project.failed ? `, <span class="bad">${project.failed} failed</span>` : ''}</span></td></tr>`
  );
}

function rowHtml(d: ReportDeployment, zone: string): string {
  const label = e(outcomeLabel(d.outcome, d.state));
  return (
    `<tr valign="top">` +
    `<td>${e(d.version || '–')}</td>` +
    `<td>${e(d.tenant ?? '')}</td>` +
    `<td>${e(localTime(d.started, zone))}</td>` +
    `<td>${e(formatDuration(d.durationMs))}</td>` +
    `<td>${e(d.deployedBy)}</td>` +
    `<td class="${outcomeClass(d)}">` +
    (d.taskUrl ? `<a href="${e(d.taskUrl)}">${label}</a>` : label) +
    `</td></tr>`
  );
}

/**
 * What an email lists: the one rule the HTML and the text part follow, so both list the same
 * failures, projects and deployments and count the same rest. Without `maxBytes` it is `capRows`
 * and `maxFailures`. With it, the HTML part (the larger) is kept within `maxBytes` (Gmail clips a
 * message's HTML at 102 KB): the fixed parts first, then failures in up to half of what is left,
 * then every project's summary line while they fit, then deployment rows in report order.
 */
export interface EmailListing {
  failures: ReportDeployment[];
  /** Whether a project's summary line is shown (and its environment's heading). */
  shown: (project: ProjectGroup) => boolean;
  listed: (project: ProjectGroup) => ReportDeployment[];
  /** Deployments not listed, and projects not shown at all. */
  omitted: number;
  omittedProjects: number;
  /** Rendered rows, so the HTML part renders each once. */
  rendered: Map<ReportDeployment, string>;
}

/** Room left for "N more … not listed" paragraphs and their links. */
const MORE_RESERVE = 1200;

export function emailListing(report: DailyReport, options: RenderOptions = {}): EmailListing {
  const maxFailures = options.maxFailures ?? report.failures.length;
  const rendered = new Map<ReportDeployment, string>();
  if (options.maxBytes === undefined) {
    const { listed, omitted } = capRows(report.groups, options.maxRows);
    return {
      failures: report.failures.slice(0, maxFailures),
      shown: () => true,
      listed,
      omitted,
      omittedProjects: 0,
      rendered,
    };
  }
  const size = (s: string): number => Buffer.byteLength(s);
  const empty: EmailListing = {
    failures: [],
    shown: () => false,
    listed: () => [],
    omitted: 0,
    omittedProjects: 0,
    rendered,
  };
  let left =
    options.maxBytes - size(documentHtml(report, empty, options, false)) - MORE_RESERVE * 2;

  const failures: ReportDeployment[] = [];
  let failureBudget = Math.floor(Math.max(0, left) / 2);
  for (const d of report.failures.slice(0, maxFailures)) {
    const cost = size(failureHtml(d, report.zone));
    if (cost > failureBudget) break;
    failureBudget -= cost;
    left -= cost;
    failures.push(d);
  }

  const shown = new Set<ProjectGroup>();
  let allShown = true;
  for (const env of report.groups) {
    let opened = false;
    for (const project of env.projects) {
      const cost =
        size(projectHtml(project)) +
        (opened ? 0 : size(environmentHtml(env.environment, env.count)) + ENVIRONMENT_END.length);
      if (cost > left) {
        allShown = false;
        break;
      }
      left -= cost;
      opened = true;
      shown.add(project);
    }
    if (!allShown) break;
  }

  const listed = new Map<ProjectGroup, ReportDeployment[]>();
  let rowBudget = options.maxRows ?? Number.POSITIVE_INFINITY;
  let full = false;
  let omitted = 0;
  let omittedProjects = 0;
  for (const env of report.groups) {
    for (const project of env.projects) {
      if (!shown.has(project)) {
        omittedProjects += 1;
        omitted += project.deployments.length;
        continue;
      }
      const rows: ReportDeployment[] = [];
      for (const d of project.deployments) {
        if (full || rowBudget <= 0) break;
        const html = rowHtml(d, report.zone);
        const cost = size(html);
        if (cost > left) {
          full = true;
          break;
        }
        left -= cost;
        rowBudget -= 1;
        rendered.set(d, html);
        rows.push(d);
      }
      listed.set(project, rows);
      omitted += project.deployments.length - rows.length;
    }
  }
  return {
    failures,
    shown: (project) => shown.has(project),
    listed: (project) => listed.get(project) ?? [],
    omitted,
    omittedProjects,
    rendered,
  };
}

/** "N more deployments are not listed …" (and the projects not shown), for both parts. */
export function omittedSentence(listing: EmailListing): string {
  const projects =
    listing.omittedProjects > 0
      ? ` (${listing.omittedProjects} project${listing.omittedProjects === 1 ? '' : 's'} not shown at all)`
      : '';
  return `${listing.omitted} more deployment${listing.omitted === 1 ? ' is' : 's are'} not listed here${projects} to keep this email small; the totals and chart above count them.`;
}

/**
 * The document as chunks: the head, totals and the first failures in one, then failures and rows a
 * batch of `rowsPerChunk` (counted together) at a time, the last batch with the notes and footer.
 * Joined, the chunks are the one document whatever the batch size (`renderHtml` joins them, with
 * `Infinity`: one chunk).
 */
function* documentChunks(
  report: DailyReport,
  listing: EmailListing,
  options: RenderOptions,
  lists: boolean,
  rowsPerChunk: number,
): Generator<string, void, undefined> {
  const t = report.totals;
  const title = `Deployments on ${longDate(report.date)}`;
  const header =
    `<tr><td class="f" style="padding:20px 20px 8px">` +
    `<h1 style="margin:0;font-size:20px;color:#222">${e(title)}</h1>` +
    `<p class="w" style="margin:4px 0 0;font-size:12px;color:#666">${e(report.zone)}, ${report.window.hours} hours` +
    `${report.window.hours !== 24 ? ' (clocks changed)' : ''} · ${e(report.scope)}</p></td></tr>`;
  const out = new ChunkBuffer(rowsPerChunk, (parts) => parts.join(''));
  out.push(
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
      `<title>${e(title)}</title><style>${STYLE}</style></head>` +
      `<body style="margin:0;padding:0;background:#f4f5f7">` +
      `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" bgcolor="#f4f5f7" style="width:100%;background:#f4f5f7"><tr><td align="center" style="padding:12px 0">` +
      `<table id="report" role="presentation" width="600" cellpadding="0" cellspacing="0" bgcolor="#ffffff" style="width:600px;max-width:600px;table-layout:fixed;border-collapse:collapse;background:#ffffff">` +
      header,
  );
  if (t.deployments === 0) {
    out.push(
      section(
        'empty',
        'No deployments',
        `<p style="margin:0;font-size:14px;color:#222">No deployments finished on ${e(longDate(report.date))} (${e(report.zone)}) in ${e(report.scope)}.` +
          (report.previous ? ` The day before had ${report.previous.deployments}.` : '') +
          `</p>`,
      ),
    );
  } else {
    out.push(`<tr><td id="totals" style="padding:8px 20px">${totalsHtml(report)}</td></tr>`);
    if (lists && report.failures.length > 0) {
      out.push(sectionStart('failures', `Failures (${report.failures.length})`));
      for (const d of listing.failures) {
        out.push(failureHtml(d, report.zone));
        const chunk = out.item();
        if (chunk !== undefined) yield chunk;
      }
      out.push(failuresEnd(report, listing, options));
    }
    out.push(section('chart', 'Deployments per hour', chartHtml(report.hours)));
    if (lists) {
      out.push(sectionStart('by-environment', 'By environment and project'));
      for (const env of report.groups) {
        if (!env.projects.some(listing.shown)) continue;
        out.push(environmentHtml(env.environment, env.count));
        for (const project of env.projects) {
          if (!listing.shown(project)) continue;
          out.push(projectHtml(project));
          for (const d of listing.listed(project)) {
            out.push(listing.rendered.get(d) ?? rowHtml(d, report.zone));
            const chunk = out.item();
            if (chunk !== undefined) yield chunk;
          }
        }
        out.push(ENVIRONMENT_END);
      }
      if (listing.omitted > 0)
        out.push(`<p class="more">${omittedSentence(listing)}${moreLink(options)}</p>`);
      out.push(SECTION_END);
    }
  }
  if (report.notes.length > 0)
    out.push(
      `<tr><td class="f w" style="padding:8px 20px;font-size:12px;color:#8a6d00">${report.notes.map((n) => `<p style="margin:0 0 4px">${e(n)}</p>`).join('')}</td></tr>`,
    );
  out.push(
    `<tr><td class="f" style="padding:12px 20px 20px;font-size:11px;color:#888">` +
      `Generated ${e(report.generatedAt.toISOString().replace('T', ' ').slice(0, 16))} UTC by Octopus Coordinator from ${report.octopusCalls} Octopus requests.</td></tr>`,
    `</table></td></tr></table></body></html>`,
  );
  yield out.take();
}

function documentHtml(
  report: DailyReport,
  listing: EmailListing,
  options: RenderOptions,
  lists = true,
): string {
  return [...documentChunks(report, listing, options, lists, Number.POSITIVE_INFINITY)].join('');
}

/** Deployment rows per chunk of `renderHtmlChunks`: about 110 KB of HTML at 50,000 rows. */
export const ROWS_PER_CHUNK = 500;

/**
 * The same document as `renderHtml`, as chunks of text: rows are rendered a batch at a time when the
 * next chunk is asked for, so the whole page is never held. The full report (HTTP route, CLI) is
 * written this way; a chunk may end in the middle of an element.
 */
export function renderHtmlChunks(
  report: DailyReport,
  options: RenderOptions = {},
  rowsPerChunk = ROWS_PER_CHUNK,
): Generator<string, void, undefined> {
  return documentChunks(report, emailListing(report, options), options, true, rowsPerChunk);
}

export function renderHtml(report: DailyReport, options: RenderOptions = {}): string {
  return documentHtml(report, emailListing(report, options), options);
}
