// The set matrix as the status poll last recorded it: one query of the setstatus table, no Octopus call.
import type { Runtime } from '../runtime/runtime.js';
import { readSetStatusRows, stateSince, type RecordedCell } from '../status/record.js';
import { spaceOfSet, taskWebUrl } from '../runtime/spaceClients.js';
import { environmentComparator } from './environmentOrder.js';
import { LiveTrains } from '../trains/live.js';
import type { MatrixCell, SetsSection } from './model.js';

export interface SetsReading {
  section: SetsSection;
  /** Space name (lower case) -> space id, as recorded by the poll (for task links elsewhere on the page). */
  spaceIds: Map<string, string>;
}

function cellOf(runtime: Runtime, row: RecordedCell, trains: LiveTrains): MatrixCell {
  return {
    environment: row.environment,
    environmentOrder: row.environmentOrder,
    tenant: row.tenant || null,
    state: row.state,
    // Rows recorded before `since` meant "became this state" say when the poll first saw it.
    since: stateSince(row.state, row.projects, row.since),
    train: trains.of(row) ?? undefined,
    projects: row.projects.map((p) => ({
      ...p,
      taskUrl: p.taskId ? taskWebUrl(runtime, row.spaceId, p.taskId) : undefined,
    })),
  };
}

export async function readSets(runtime: Runtime): Promise<SetsReading> {
  const [{ rows, lastPoll }, trains] = await Promise.all([
    readSetStatusRows(runtime),
    LiveTrains.read(runtime),
  ]);
  const byEnvironment = environmentComparator(runtime.config);
  const spaceIds = new Map<string, string>();
  for (const row of rows) if (row.spaceId) spaceIds.set(row.space.toLowerCase(), row.spaceId);
  const problems = lastPoll?.problems ?? [];
  const sets = Object.entries(runtime.config.projectSets).map(([name, set]) => ({
    set: name,
    description: set.description,
    space: spaceOfSet(runtime, name),
    projects: set.projects,
    cells: rows
      .filter((r) => r.set === name)
      .map((r) => cellOf(runtime, r, trains))
      .sort(
        (a, b) =>
          (a.environmentOrder !== undefined && b.environmentOrder !== undefined
            ? a.environmentOrder - b.environmentOrder
            : byEnvironment(a.environment, b.environment)) ||
          (a.tenant ?? '').localeCompare(b.tenant ?? ''),
      ),
    problem: problems.find((p) => p.set === name)?.message,
  }));
  return {
    section: {
      lastPoll: lastPoll ? { at: lastPoll.at, instance: lastPoll.instance } : undefined,
      problems: problems
        .filter((p) => !(p.set in runtime.config.projectSets))
        .map((p) => p.message),
      sets,
    },
    spaceIds,
  };
}
