// The daily report as data: one row per deployment finished in the day, totals, hours, groups.
import type { DayWindow } from './dayWindow.js';

export type Outcome = 'Success' | 'Failed' | 'TimedOut' | 'Canceled' | 'Other';

/** One deployment that finished inside the report's day. */
export interface ReportDeployment {
  space: string;
  deploymentId: string;
  taskId: string;
  project: string;
  environment: string;
  /** Octopus's SortOrder of the environment, so groups read Dev, Test, Production. */
  environmentOrder: number;
  tenant: string | undefined;
  version: string;
  outcome: Outcome;
  /** The task's own state, shown when the outcome is `Other`. */
  state: string;
  /** Epoch ms. */
  started: number | undefined;
  completed: number;
  durationMs: number | undefined;
  deployedBy: string;
  /** Octopus's failure summary; empty when none. */
  error: string;
  /** Link to the task in Octopus's web UI. */
  taskUrl: string | undefined;
}

export interface ReportTotals {
  deployments: number;
  succeeded: number;
  /** Failed and timed out. */
  failed: number;
  canceled: number;
  /** 0..1; undefined on an empty day. */
  successRate: number | undefined;
  medianDurationMs: number | undefined;
  longestDurationMs: number | undefined;
}

export interface HourBucket {
  /** Local hour, "00".."23" (a 25-hour day repeats one). */
  label: string;
  succeeded: number;
  failed: number;
  /** Canceled and anything else. */
  other: number;
}

export interface ProjectGroup {
  project: string;
  deployments: ReportDeployment[];
  succeeded: number;
  failed: number;
}

export interface EnvironmentGroup {
  environment: string;
  projects: ProjectGroup[];
  count: number;
}

export interface DailyReport {
  date: string;
  zone: string;
  window: DayWindow;
  generatedAt: Date;
  /** What was reported on, in words ("space Default, sets web-stack"). */
  scope: string;
  totals: ReportTotals;
  /** The day before, for the change; undefined when it could not be read. */
  previous: ReportTotals | undefined;
  hours: HourBucket[];
  /** Failed and timed-out deployments, newest first. */
  failures: ReportDeployment[];
  groups: EnvironmentGroup[];
  /** Things the reader should know (unknown names in the scope, missing deployments). */
  notes: string[];
  /** Octopus requests made to build it. */
  octopusCalls: number;
}
