// Shared wording for both parts of the report: durations, rates, changes, dates, outcomes.
import { localTimeOf } from '../time/zones.js';
import type {
  EnvironmentGroup,
  Outcome,
  ProjectGroup,
  ReportDeployment,
  ReportTotals,
} from './model.js';

/** How much of a report is listed; the HTML and the text part list the same rows. */
export interface RenderOptions {
  /** Most deployment rows listed by environment (failures are always listed). Default: all. */
  maxRows?: number;
  /** Most failures listed; the rest are counted. Default: all. */
  maxFailures?: number;
  /** Where the full report can be read, linked when rows were left out. */
  fullReportUrl?: string;
  /**
   * Most bytes of the HTML part: failures, project lines and rows are listed while they fit (see
   * `emailListing`), the rest counted. Default: no limit.
   */
  maxBytes?: number;
}

/**
 * The rows each project lists under `maxRows`, in report order, and how many are left out: the one
 * rule both parts follow so the HTML and the text list the same deployments.
 */
export function capRows(
  groups: readonly EnvironmentGroup[],
  maxRows = Number.POSITIVE_INFINITY,
): { listed: (project: ProjectGroup) => ReportDeployment[]; omitted: number } {
  const listed = new Map<ProjectGroup, ReportDeployment[]>();
  let budget = maxRows;
  let omitted = 0;
  for (const env of groups) {
    for (const project of env.projects) {
      const n = Math.max(0, Math.min(budget, project.deployments.length));
      listed.set(project, project.deployments.slice(0, n));
      omitted += project.deployments.length - n;
      budget -= n;
    }
  }
  return { listed: (project) => listed.get(project) ?? [], omitted };
}

/**
 * Parts of a document since its last chunk, and how many listed items (rows, failures) are among
 * them: the renderers push parts and, after each item, take a chunk when the batch is full.
 */
export class ChunkBuffer {
  private parts: string[] = [];
  private items = 0;

  constructor(
    private readonly itemsPerChunk: number,
    /** The chunk's text from its parts. */
    private readonly join: (parts: string[]) => string,
  ) {}

  push(...parts: string[]): void {
    for (const part of parts) this.parts.push(part);
  }

  /** After a listed item: the chunk when this one fills the batch, else undefined. */
  item(): string | undefined {
    return ++this.items >= this.itemsPerChunk ? this.take() : undefined;
  }

  /** Everything since the last chunk, as a chunk. */
  take(): string {
    const chunk = this.join(this.parts);
    this.parts = [];
    this.items = 0;
    return chunk;
  }
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return '–';
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, '0')} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

export function formatRate(rate: number | undefined): string {
  return rate === undefined ? '–' : `${(rate * 100).toFixed(rate === 1 || rate === 0 ? 0 : 1)}%`;
}

/** "+12", "−3", "±0" against the day before; empty when there is no day before. */
export function formatChange(now: number, before: number | undefined): string {
  if (before === undefined) return '';
  const diff = now - before;
  if (diff === 0) return '±0';
  return diff > 0 ? `+${diff}` : `−${Math.abs(diff)}`;
}

/** Change of a rate in percentage points. */
export function formatRateChange(now: number | undefined, before: number | undefined): string {
  if (now === undefined || before === undefined) return '';
  const points = (now - before) * 100;
  if (Math.abs(points) < 0.05) return '±0 pts';
  return `${points > 0 ? '+' : '−'}${Math.abs(points).toFixed(1)} pts`;
}

export function formatDurationChange(now: number | undefined, before: number | undefined): string {
  if (now === undefined || before === undefined) return '';
  const diff = now - before;
  if (Math.abs(diff) < 1000) return '±0 s';
  return `${diff > 0 ? '+' : '−'}${formatDuration(Math.abs(diff))}`;
}

export function outcomeLabel(outcome: Outcome, state: string): string {
  switch (outcome) {
    case 'Success':
      return 'Succeeded';
    case 'Failed':
      return 'Failed';
    case 'TimedOut':
      return 'Timed out';
    case 'Canceled':
      return 'Canceled';
    case 'Other':
      return state;
  }
}

/** "Friday, 20 November 2026". */
export function longDate(date: string): string {
  const [y, m, d] = date.split('-').map(Number);
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: 'UTC',
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
  }).format(new Date(Date.UTC(y ?? 0, (m ?? 1) - 1, d ?? 1)));
}

/** Local `HH:MM` by UTC minute, per zone: a day's report has at most 1,500 distinct minutes. */
const localTimes = new Map<string, Map<number, string>>();
const LOCAL_TIMES_KEPT = 4096;

/**
 * `HH:MM` in the zone; '–' when unknown. Cached by the UTC minute (every zone's offset has been a
 * whole number of minutes since 1972), so a day of 50,000 rows formats about 1,440 times, not 50,000.
 */
export function localTime(ms: number | undefined, zone: string): string {
  if (ms === undefined) return '–';
  let byMinute = localTimes.get(zone);
  if (!byMinute) {
    byMinute = new Map();
    localTimes.set(zone, byMinute);
  }
  const minute = Math.floor(ms / 60_000);
  let text = byMinute.get(minute);
  if (text === undefined) {
    if (byMinute.size >= LOCAL_TIMES_KEPT) byMinute.clear();
    text = localTimeOf(minute * 60_000, zone);
    byMinute.set(minute, text);
  }
  return text;
}

export function subjectOf(date: string, totals: ReportTotals): string {
  if (totals.deployments === 0) return `Deployments ${date}: none`;
  const failed = totals.failed > 0 ? `, ${totals.failed} failed` : '';
  return `Deployments ${date}: ${totals.deployments} (${formatRate(totals.successRate)} succeeded${failed})`;
}
