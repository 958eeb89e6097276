// What GET /api/status shows: each set x environment (x tenant) as last recorded by the poll or a webhook.
import { CoordinatorError } from '../errors.js';
import type { Runtime } from '../runtime/runtime.js';
import { lastNotifications, type LastNotification } from '../watches/notify.js';
import {
  readSetStatusRows,
  stateSince,
  type RecordedCell,
  type RecordedProject,
  type SetStatusRow,
} from '../status/record.js';
import { spaceOfSet, taskWebUrl } from '../runtime/spaceClients.js';
import { LiveTrains, type LiveTrain } from '../trains/live.js';

export interface CellView {
  environment: string;
  tenant: string | null;
  state: SetStatusRow['state'];
  complete: boolean;
  /** When the set got into this state (complete: its last member's completion). */
  since: string;
  projects: (RecordedProject & { taskUrl: string | null })[];
  lastNotified: { watch: string; at: string; releases: LastNotification['releases'] } | null;
  /** The release train live here: captured, and the combination that stands now (null: none). */
  train: LiveTrain | null;
}

export interface SetView {
  set: string;
  description: string | null;
  space: string;
  projects: string[];
  watches: string[];
  cells: CellView[];
  /** Why this set could not be read on the last poll, if it could not. */
  problem: string | null;
}

export interface StatusView {
  lastPoll: { at: string; instance: string } | null;
  sets: SetView[];
}

function cellView(
  runtime: Runtime,
  row: RecordedCell,
  notices: LastNotification[],
  trains: LiveTrains,
): CellView {
  const projects = row.projects.map((p) => ({
    ...p,
    taskUrl: p.taskId ? (taskWebUrl(runtime, row.spaceId, p.taskId) ?? null) : null,
  }));
  const tenant = row.tenant || null;
  const mine = notices
    .filter(
      (n) =>
        n.environment.toLowerCase() === row.environment.toLowerCase() &&
        (n.tenant === tenant || (n.tenant === 'all tenants' && tenant !== null)),
    )
    .sort((a, b) => b.at.localeCompare(a.at))[0];
  return {
    environment: row.environment,
    tenant,
    state: row.state,
    complete: row.state === 'complete',
    since: stateSince(row.state, projects, row.since),
    projects,
    lastNotified: mine ? { watch: mine.watch, at: mine.at, releases: mine.releases } : null,
    train: trains.of(row),
  };
}

export async function statusView(runtime: Runtime, only?: string): Promise<StatusView> {
  const sets = runtime.config.projectSets;
  const wanted =
    only === undefined
      ? Object.keys(sets)
      : Object.keys(sets).filter((s) => s.toLowerCase() === only.toLowerCase());
  if (only !== undefined && wanted.length === 0) {
    const known = Object.keys(sets).join(', ') || 'none';
    throw new CoordinatorError(
      'not_found',
      'not_found',
      `There is no project set "${only}" in the coordination config (sets: ${known}).`,
    );
  }
  const { rows, lastPoll } = await readSetStatusRows(
    runtime,
    wanted.length === 1 ? wanted[0] : undefined,
  );
  const watchNames = runtime.config.watches
    .filter((w) => wanted.includes(w.set))
    .map((w) => w.name);
  const [notices, trains] = await Promise.all([
    lastNotifications(runtime, watchNames),
    LiveTrains.read(runtime),
  ]);
  return {
    lastPoll: lastPoll ? { at: lastPoll.at, instance: lastPoll.instance } : null,
    sets: wanted.map((name) => {
      const set = sets[name];
      const watches = runtime.config.watches.filter((w) => w.set === name);
      const watchNoticeList = notices.filter((n) => watches.some((w) => w.name === n.watch));
      return {
        set: name,
        description: set?.description ?? null,
        space: spaceOfSet(runtime, name),
        projects: set?.projects ?? [],
        watches: watches.map((w) => w.name),
        // In lifecycle order (rows recorded before the order was kept: alphabetically, after).
        cells: rows
          .filter((r) => r.set === name)
          .sort(
            (a, b) =>
              (a.environmentOrder ?? Infinity) - (b.environmentOrder ?? Infinity) ||
              a.environment.localeCompare(b.environment) ||
              a.tenant.localeCompare(b.tenant),
          )
          .map((r) => cellView(runtime, r, watchNoticeList, trains)),
        problem: lastPoll?.problems.find((p) => p.set === name || p.set === '*')?.message ?? null,
      };
    }),
  };
}
