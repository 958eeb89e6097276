// Watches and coordinator runs: while a run is changing a set × environment (× tenant), its watches hold
// their emails; once it has ended, the combination that stands is announced as usual, unless it is the
// one from before the run (a rolled-back run changed nothing worth an email; its own email says why).
import type { Runtime } from '../runtime/runtime.js';
import { cellsToCapture } from '../runs/plan.js';
import { RunStore } from '../runs/store.js';
import { isTerminalRunStatus, type PlanCell, type RunState } from '../runs/types.js';
import { octopusForSpace, spaceOfSet } from '../runtime/spaceClients.js';
import type { WatchNotice } from './evaluate.js';

/** Finished runs older than this are not consulted for "the combination from before the run". */
export const settledRunLookbackMs = 24 * 60 * 60_000;

/** Every project × environment × tenant a run may change: its deploys, and what onFailure may put back. */
export function cellsChangedByRun(run: RunState): PlanCell[] {
  const cells = [...cellsToCapture(run.plan)];
  for (const entry of run.plan.onFailure)
    if (entry.type === 'deploy')
      cells.push({ project: entry.project, environment: entry.environment, tenant: entry.tenant });
  return cells;
}

const lower = (s: string) => s.toLowerCase();

/** Why a notice must not go out now, or undefined. Loads the runs once, on first need. */
export class RunHolds {
  private runs: Promise<RunState[]> | undefined;
  private readonly ids = new Map<string, Promise<string>>();

  /** `readAt`: when the status the notices come from was read from Octopus. */
  constructor(
    private readonly runtime: Runtime,
    private readonly readAt: number,
  ) {}

  async reasonToHold(notice: WatchNotice): Promise<string | undefined> {
    const touching = await this.runsTouching(notice);
    const active = touching.find((r) => !isTerminalRunStatus(r.status));
    if (active)
      return `coordinator run ${active.id} (${active.plan.kind} ${active.plan.name}) is changing it; the combination that stands when the run ends is announced then`;
    // A reading taken before the run ended may show a stage in the middle: wait for a newer one.
    const after = touching.find((r) => r.finishedAt && Date.parse(r.finishedAt) >= this.readAt);
    if (after)
      return `the status was read before coordinator run ${after.id} ended; the next reading announces what stands`;
    if (notice.kind !== 'live') return undefined;
    const formed = Math.max(
      ...notice.releases.map((r) => (r.completedTime ? Date.parse(r.completedTime) : 0)),
    );
    for (const run of touching) {
      // Only a run that ended with this combination standing: a later change is announced as usual.
      if (!run.finishedAt || Date.parse(run.finishedAt) < formed) continue;
      if (await this.isCombinationBefore(run, notice))
        return `it is the combination from before coordinator run ${run.id} (${run.plan.kind} ${run.plan.name}), which ended ${run.status}`;
    }
    return undefined;
  }

  /** The runs, active or recently finished, that change a member of the notice's set in its environment (and tenant). */
  private async runsTouching(notice: WatchNotice): Promise<RunState[]> {
    const out: RunState[] = [];
    for (const run of await this.loadRuns()) {
      for (const cell of cellsChangedByRun(run)) {
        if (await this.cellInNotice(cell, notice)) {
          out.push(run);
          break;
        }
      }
    }
    return out;
  }

  private async cellInNotice(cell: PlanCell, notice: WatchNotice): Promise<boolean> {
    if (lower(cell.environment) !== lower(notice.environment)) {
      const [a, b] = await Promise.all([
        this.id(notice.set, 'environment', cell.environment),
        this.id(notice.set, 'environment', notice.environment),
      ]);
      if (a !== b) return false;
    }
    if (
      cell.tenant !== null &&
      notice.tenant !== null &&
      notice.tenant !== 'all tenants' &&
      lower(cell.tenant) !== lower(notice.tenant)
    )
      return false;
    const members = this.runtime.config.projectSets[notice.set]?.projects ?? [];
    const project = await this.id(notice.set, 'project', cell.project);
    for (const member of members)
      if ((await this.id(notice.set, 'project', member)) === project) return true;
    return false;
  }

  /** Did the run capture, before it started, exactly the releases the notice announces (all successful)? */
  private async isCombinationBefore(run: RunState, notice: WatchNotice): Promise<boolean> {
    if (!run.previous.captured) return false;
    let compared = 0;
    for (const cell of run.previous.cells) {
      if (!(await this.cellInNotice(cell, notice))) continue;
      const projectId = await this.id(notice.set, 'project', cell.project);
      const announced = [];
      for (const r of notice.releases)
        if (
          (await this.id(notice.set, 'project', r.project)) === projectId &&
          (cell.tenant === null || r.tenant === null || lower(r.tenant) === lower(cell.tenant))
        )
          announced.push(r);
      if (announced.length === 0) continue;
      const before = cell.current;
      if (!before || before.state !== 'Success') return false;
      if (announced.some((r) => r.releaseId !== before.releaseId)) return false;
      compared += 1;
    }
    return compared > 0;
  }

  /** A name's Octopus id in the set's space (cached), or the lower-cased name when it does not resolve. */
  private id(set: string, kind: 'project' | 'environment', name: string): Promise<string> {
    const key = `${set}\u0000${kind}\u0000${lower(name)}`;
    let found = this.ids.get(key);
    if (!found) {
      const client = octopusForSpace(this.runtime, spaceOfSet(this.runtime, set));
      found = client
        ? client.resolve.ids(kind, [name]).then(
            (ids) => ids[0] ?? lower(name),
            () => lower(name),
          )
        : Promise.resolve(lower(name));
      this.ids.set(key, found);
    }
    return found;
  }

  private loadRuns(): Promise<RunState[]> {
    this.runs ??= (async () => {
      const store = new RunStore(this.runtime.tables);
      const since = this.runtime.clock.now().getTime() - settledRunLookbackMs;
      // Storage filters out the runs that finished long ago, so the read does not grow with history.
      const wanted = (
        await store.list({ activeOrFinishedSince: new Date(since).toISOString() })
      ).filter((r) => !isTerminalRunStatus(r.status) || Date.parse(r.finishedAt ?? '') >= since);
      const loaded = await Promise.all(wanted.map((r) => store.get(r.id)));
      return loaded.flatMap((l) => (l ? [l.state] : []));
    })();
    return this.runs;
  }
}
