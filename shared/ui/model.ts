// What the status page shows, read from storage once per load and rendered without further reads.
import type { Freeze } from '../freezes/model.js';
import type { JobRunRecord } from '../jobs/jobHistory.js';
import type { RunView } from '../runs/view.js';
import type { RecordedProject, SetStatusRow } from '../status/record.js';
import type { LiveTrain } from '../trains/live.js';

/** A section that could not be read says why instead of failing the whole page. */
export type Section<T> = { ok: true; value: T } | { ok: false; message: string };

export interface MatrixProject extends RecordedProject {
  taskUrl: string | undefined;
}

/** One set in one environment for one tenant (null: untenanted), as the status poll last recorded it. */
export interface MatrixCell {
  environment: string;
  /** Lifecycle position, as the poll recorded it (older rows have none: config order is used). */
  environmentOrder: number | undefined;
  tenant: string | null;
  state: SetStatusRow['state'];
  /** When the set got into this state (see SetStatusRow.since). */
  since: string;
  projects: MatrixProject[];
  /** The release train live here, if its combination was captured. */
  train?: LiveTrain;
}

export interface SetMatrix {
  set: string;
  description: string | undefined;
  space: string;
  /** As configured, in order: the matrix rows. */
  projects: string[];
  /** Columns in display order. */
  cells: MatrixCell[];
  /** Why the last poll could not read this set. */
  problem: string | undefined;
}

export interface SetsSection {
  lastPoll: { at: string; instance: string } | undefined;
  /** Problems of the last poll that concern no single set. */
  problems: string[];
  sets: SetMatrix[];
}

export interface RunsSection {
  /** Still running (or finishing their email), newest first. */
  active: RunView[];
  /** Finished, newest first. */
  recent: RunView[];
  /** Runs stored but not shown. */
  notShown: number;
}

export interface LockHolderView {
  holder: string;
  fence: number;
  grantedAt: string;
  expiresAt: string;
  expired: boolean;
  octopusTaskId: string | undefined;
  taskUrl: string | undefined;
}

export interface LockWaiterView {
  position: number;
  holder: string;
  priority: number;
  queuedAt: string;
  octopusTaskId: string | undefined;
  taskUrl: string | undefined;
  why: string;
}

export interface LockPageView {
  name: string;
  permits: number;
  lastFence: number;
  holders: LockHolderView[];
  waiters: LockWaiterView[];
  /** Leases an operator force-released recently (kept about two days). */
  forced?: { fence: number; holder: string; by: string; reason: string; at: string }[];
  /** Deadlock warnings this lock takes part in. */
  deadlocks?: string[];
}

export interface PromotionView {
  name: string;
  set: string;
  from: string;
  to: string;
  cron: string;
  /** The promotion's own zone: its slots are shown in it. */
  timeZone: string;
  /** The next slot (UTC ISO), if one falls in the next weeks. */
  nextSlot: string | undefined;
  /** How its most recent slot ended. */
  last:
    | {
        slot: string;
        state: string;
        at: string;
        detail: string | undefined;
        runId: string | undefined;
      }
    | undefined;
}

export interface StatusPageModel {
  generatedAt: Date;
  refreshSeconds: number;
  /** Octopus's web address (for the header), if configured. */
  octopusUrl: string | undefined;
  sets: Section<SetsSection>;
  runs: Section<RunsSection>;
  promotions: Section<PromotionView[]>;
  locks: Section<LockPageView[]>;
  jobs: Section<JobRunRecord[]>;
  /** Coordinator freezes in force now (a banner at the top); absent in pages built before freezes. */
  freezes?: Section<Freeze[]>;
}
