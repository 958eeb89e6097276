// Each set's combined state per environment (and tenant), kept in Table Storage for GET /api/status.
// A row is written only when what it shows changed, so an idle poll costs one read per set.
import { createIfAbsent, listPartition, updateIfMatch } from '../storage/conditional.js';
import { encodeKey } from '../storage/keys.js';
import { toJsonProperty } from '../storage/limits.js';
import { fromJsonParts, jsonParts } from '../storage/jsonParts.js';
import type { TableClient } from '@azure/data-tables';
import type { Runtime } from '../runtime/runtime.js';
import type { SetCell, SetCellState, StatusSnapshot } from './snapshot.js';

export const setStatusTable = 'setstatus';
const pollPartition = '~poll';
const pollRow = 'last';

/** A project's current deployment as recorded. */
export interface RecordedProject {
  project: string;
  projectId: string;
  release: string | null;
  releaseId: string | null;
  state: string | null;
  deploymentId: string | null;
  taskId: string | null;
  created: string | null;
  completedTime: string | null;
  /** The deployment waits for someone in Octopus (manual intervention, guided failure). */
  waitingInOctopus?: boolean;
}

export interface SetStatusRow {
  set: string;
  space: string;
  spaceId: string;
  environment: string;
  environmentId: string;
  tenant: string;
  tenantId: string;
  state: SetCellState;
  fingerprint: string;
  /**
   * When the set got into this state: complete, when its last member finished; failed, when the
   * failed deployment ended; deploying, when the newest one was queued; otherwise when first seen.
   */
  since: string;
  /** The environment's place in the members' lifecycles (rows recorded before it have none). */
  environmentOrder?: number;
  /** JSON of RecordedProject[], over numbered properties (see jsonParts). */
  projects: string;
}

/** A recorded cell as readers see it: the stored row with its projects put back together. */
export type RecordedCell = Omit<SetStatusRow, 'projects'> & { projects: RecordedProject[] };

/** The one way to read a stored row: the projects JSON may span several properties (jsonParts). */
function recordedCell(row: SetStatusRow): RecordedCell {
  let projects: RecordedProject[] = [];
  try {
    const parsed = fromJsonParts<unknown>(row, 'projects');
    if (Array.isArray(parsed)) projects = parsed as RecordedProject[];
  } catch {
    // A row cut short by hand or by an old writer: show the cell without projects, not an error.
  }
  return { ...row, projects };
}

export function setPartition(set: string): string {
  return encodeKey(set);
}

export function cellRowKey(environment: string, tenant: string | null): string {
  return encodeKey(`${environment}\u0001${tenant ?? ''}`);
}

export function recordedProjects(cell: SetCell): RecordedProject[] {
  return cell.projects.map((p) => ({
    project: p.project,
    projectId: p.projectId,
    release: p.current?.ReleaseVersion ?? null,
    releaseId: p.current?.ReleaseId ?? null,
    state: p.current?.State ?? null,
    deploymentId: p.current?.DeploymentId ?? p.current?.Id ?? null,
    taskId: p.current?.TaskId ?? null,
    created: p.current?.Created ?? null,
    completedTime: p.current?.CompletedTime ?? null,
    ...(p.current?.HasPendingInterruptions === true && !p.current.IsCompleted
      ? { waitingInOctopus: true }
      : {}),
  }));
}

function latest(times: (string | null)[]): string | undefined {
  const ms = times.map((t) => (t ? Date.parse(t) : NaN)).filter((t) => !Number.isNaN(t));
  return ms.length > 0 ? new Date(Math.max(...ms)).toISOString() : undefined;
}

const failedStates = new Set(['Failed', 'TimedOut']);
const activeStates = new Set(['Queued', 'Executing', 'Cancelling']);

/** See SetStatusRow.since: from the deployments themselves, not from when the poll noticed. */
export function stateSince(
  state: SetCellState,
  projects: readonly RecordedProject[],
  noticed: string,
): string {
  const of = (keep: (p: RecordedProject) => boolean, time: (p: RecordedProject) => string | null) =>
    latest(projects.filter(keep).map(time));
  const since =
    state === 'complete'
      ? of(
          () => true,
          (p) => p.completedTime,
        )
      : state === 'failed'
        ? of(
            (p) => failedStates.has(p.state ?? ''),
            (p) => p.completedTime,
          )
        : state === 'deploying'
          ? of(
              (p) => activeStates.has(p.state ?? ''),
              (p) => p.created,
            )
          : undefined;
  return since ?? noticed;
}

interface StoredFingerprint {
  fingerprint?: string;
  etag: string;
}

/**
 * Up to this many sets, one partition read each; more, one read of the whole table (1,000 rows a
 * request), so a poll of 100 sets costs one request, not 100. Either way only the fingerprints and
 * etags come back, not the projects (a reading that did not change is never decoded).
 */
const partitionReadsUpTo = 3;

/** What is stored for these sets: partition → row key → fingerprint and etag. */
async function storedFingerprints(
  table: TableClient,
  sets: readonly string[],
): Promise<Map<string, Map<string, StoredFingerprint>>> {
  const { odata } = await import('@azure/data-tables');
  const partitions = new Set(sets.map(setPartition));
  const out = new Map<string, Map<string, StoredFingerprint>>();
  const read = async (filter: string | undefined) => {
    const rows = table.listEntities<{ fingerprint?: string }>({
      queryOptions: { filter, select: ['PartitionKey', 'RowKey', 'fingerprint'] },
    });
    for await (const row of rows) {
      const partition = row.partitionKey ?? '';
      if (!partitions.has(partition) || row.etag === undefined) continue;
      let cells = out.get(partition);
      if (!cells) out.set(partition, (cells = new Map()));
      cells.set(row.rowKey ?? '', { fingerprint: row.fingerprint, etag: row.etag });
    }
  };
  if (partitions.size <= partitionReadsUpTo)
    await Promise.all([...partitions].map((p) => read(odata`PartitionKey eq ${p}`)));
  else await read(undefined);
  return out;
}

/** Write the cells that changed; returns how many rows were written. */
export async function recordSetStatus(runtime: Runtime, snapshot: StatusSnapshot): Promise<number> {
  const table = await runtime.tables.table(setStatusTable);
  const bySet = new Map<string, SetCell[]>();
  for (const cell of snapshot.cells) bySet.set(cell.set, [...(bySet.get(cell.set) ?? []), cell]);
  let written = 0;
  const now = snapshot.takenAt.toISOString();
  const stored = await storedFingerprints(table, [...bySet.keys()]);
  await Promise.all(
    [...bySet].map(async ([set, cells]) => {
      const existing = stored.get(setPartition(set)) ?? new Map<string, StoredFingerprint>();
      for (const cell of cells) {
        const projects = recordedProjects(cell);
        const fingerprint = JSON.stringify([
          cell.state,
          projects.map((p) =>
            p.waitingInOctopus ? [p.deploymentId, p.state, 'waiting'] : [p.deploymentId, p.state],
          ),
        ]);
        const rowKey = cellRowKey(cell.environment, cell.tenant?.name ?? null);
        const before = existing.get(rowKey);
        if (before?.fingerprint === fingerprint) continue;
        const row = {
          partitionKey: setPartition(set),
          rowKey,
          set,
          space: cell.space,
          spaceId: cell.spaceId,
          environment: cell.environment,
          environmentId: cell.environmentId,
          tenant: cell.tenant?.name ?? '',
          tenantId: cell.tenant?.id ?? '',
          state: cell.state,
          fingerprint,
          since: stateSince(cell.state, projects, now),
          environmentOrder: cell.environmentOrder,
          ...jsonParts(setStatusTable, 'projects', projects),
        };
        // A lost race means another instance recorded a reading at least as fresh: leave it.
        const outcome = before?.etag
          ? await updateIfMatch(table, row, before.etag)
          : await createIfAbsent(table, row);
        if (outcome.ok) written += 1;
      }
    }),
  );
  const problems = toJsonProperty(setStatusTable, 'problems', snapshot.problems.slice(0, 50));
  await table.upsertEntity(
    {
      partitionKey: pollPartition,
      rowKey: pollRow,
      at: now,
      instance: runtime.instanceId,
      problems,
      octopusCalls: snapshot.octopusCalls,
    },
    'Replace',
  );
  return written;
}

export interface LastPoll {
  at: string;
  instance: string;
  problems: { set: string; message: string }[];
}

/** Every recorded cell (of one set, when given) and the last poll, each row decoded the one way. */
export async function readSetStatusRows(
  runtime: Runtime,
  set?: string,
): Promise<{ rows: RecordedCell[]; lastPoll: LastPoll | undefined }> {
  const table = await runtime.tables.table(setStatusTable);
  const rows: RecordedCell[] = [];
  let lastPoll: LastPoll | undefined;
  const filter = set === undefined ? undefined : setPartition(set);
  const all =
    filter === undefined
      ? table.listEntities<SetStatusRow & { at?: string; instance?: string; problems?: string }>()
      : undefined;
  if (all) {
    for await (const row of all) {
      if (row.partitionKey === pollPartition) {
        lastPoll = {
          at: row.at ?? '',
          instance: row.instance ?? '',
          problems: JSON.parse(row.problems ?? '[]') as LastPoll['problems'],
        };
      } else rows.push(recordedCell(row));
    }
    return { rows, lastPoll };
  }
  rows.push(...(await listPartition<SetStatusRow>(table, filter ?? '')).map(recordedCell));
  const poll = await listPartition<{ at: string; instance: string; problems: string }>(
    table,
    pollPartition,
  );
  const p = poll[0];
  if (p)
    lastPoll = {
      at: p.at,
      instance: p.instance,
      problems: JSON.parse(p.problems) as LastPoll['problems'],
    };
  return { rows, lastPoll };
}
