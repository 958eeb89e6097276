// Pure: from the day's deployment rows to totals, per-hour buckets and environment/project groups.
import { hourLabels, type DayWindow } from './dayWindow.js';
import type {
  DailyReport,
  EnvironmentGroup,
  HourBucket,
  Outcome,
  ReportDeployment,
  ReportTotals,
} from './model.js';

const HOUR_MS = 3_600_000;

export function outcomeOf(state: string): Outcome {
  switch (state) {
    case 'Success':
    case 'Failed':
    case 'TimedOut':
    case 'Canceled':
      return state;
    default:
      return 'Other';
  }
}

export function isFailure(outcome: Outcome): boolean {
  return outcome === 'Failed' || outcome === 'TimedOut';
}

/**
 * Counts outcomes and keeps durations one at a time, so a day can be totalled without holding a row
 * per deployment (the day before, read only for the change).
 */
export class TotalsTally {
  private deployments = 0;
  private succeeded = 0;
  private failed = 0;
  private canceled = 0;
  /** Unboxed doubles: a plain array of numbers only. */
  private readonly durations: number[] = [];

  add(outcome: Outcome, durationMs: number | undefined): void {
    this.deployments += 1;
    if (outcome === 'Success') this.succeeded += 1;
    else if (isFailure(outcome)) this.failed += 1;
    else if (outcome === 'Canceled') this.canceled += 1;
    if (durationMs !== undefined) this.durations.push(durationMs);
  }

  totals(): ReportTotals {
    const durations = [...this.durations].sort((a, b) => a - b);
    const mid = Math.floor(durations.length / 2);
    const median =
      durations.length === 0
        ? undefined
        : durations.length % 2 === 1
          ? durations[mid]
          : ((durations[mid - 1] ?? 0) + (durations[mid] ?? 0)) / 2;
    return {
      deployments: this.deployments,
      succeeded: this.succeeded,
      failed: this.failed,
      canceled: this.canceled,
      successRate: this.deployments === 0 ? undefined : this.succeeded / this.deployments,
      medianDurationMs: median,
      longestDurationMs: durations.length === 0 ? undefined : durations[durations.length - 1],
    };
  }
}

/** Totals from outcomes and durations (durations may be missing, e.g. a task that timed out in the queue). */
export function totalsOf(
  rows: readonly { outcome: Outcome; durationMs: number | undefined }[],
): ReportTotals {
  const tally = new TotalsTally();
  for (const row of rows) tally.add(row.outcome, row.durationMs);
  return tally.totals();
}

/** Deployments per hour of the day (by the hour they finished), success against failure. */
export function hourBuckets(window: DayWindow, rows: readonly ReportDeployment[]): HourBucket[] {
  const buckets = hourLabels(window).map((label) => ({ label, succeeded: 0, failed: 0, other: 0 }));
  const start = window.start.getTime();
  for (const row of rows) {
    const index = Math.min(
      buckets.length - 1,
      Math.max(0, Math.floor((row.completed - start) / HOUR_MS)),
    );
    const bucket = buckets[index];
    if (!bucket) continue;
    if (row.outcome === 'Success') bucket.succeeded += 1;
    else if (isFailure(row.outcome)) bucket.failed += 1;
    else bucket.other += 1;
  }
  return buckets;
}

/** By environment (Octopus's order), then project (alphabetical), then start time. */
export function groupRows(rows: readonly ReportDeployment[]): EnvironmentGroup[] {
  const byEnvironment = new Map<
    string,
    { order: number; projects: Map<string, ReportDeployment[]> }
  >();
  for (const row of rows) {
    let env = byEnvironment.get(row.environment);
    if (!env) {
      env = { order: row.environmentOrder, projects: new Map() };
      byEnvironment.set(row.environment, env);
    }
    const list = env.projects.get(row.project);
    if (list) list.push(row);
    else env.projects.set(row.project, [row]);
  }
  const byName = (a: string, b: string) => a.localeCompare(b, 'en');
  return [...byEnvironment.entries()]
    .sort(([a, x], [b, y]) => x.order - y.order || byName(a, b))
    .map(([environment, env]) => {
      const projects = [...env.projects.entries()]
        .sort(([a], [b]) => byName(a, b))
        .map(([project, deployments]) => {
          deployments.sort((a, b) => (a.started ?? a.completed) - (b.started ?? b.completed));
          let succeeded = 0;
          let failed = 0;
          for (const d of deployments) {
            if (d.outcome === 'Success') succeeded += 1;
            else if (isFailure(d.outcome)) failed += 1;
          }
          return { project, deployments, succeeded, failed };
        });
      return {
        environment,
        projects,
        count: projects.reduce((n, p) => n + p.deployments.length, 0),
      };
    });
}

export interface SummarizeInput {
  window: DayWindow;
  rows: ReportDeployment[];
  previous: ReportTotals | undefined;
  scope: string;
  notes: string[];
  octopusCalls: number;
  generatedAt: Date;
}

export function summarize(input: SummarizeInput): DailyReport {
  const { window, rows } = input;
  return {
    date: window.date,
    zone: window.zone,
    window,
    generatedAt: input.generatedAt,
    scope: input.scope,
    totals: totalsOf(rows),
    previous: input.previous,
    hours: hourBuckets(window, rows),
    failures: rows.filter((r) => isFailure(r.outcome)).sort((a, b) => b.completed - a.completed),
    groups: groupRows(rows),
    notes: input.notes,
    octopusCalls: input.octopusCalls,
  };
}
