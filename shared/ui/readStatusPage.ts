// Everything the status page shows, read from Table Storage in parallel: the set status the poll
// recorded, runs, locks and timer-job history. It never calls Octopus.
import { FreezeStore } from '../freezes/store.js';
import { listJobRuns } from '../jobs/jobHistory.js';
import { locksTableName } from '../locks/rows.js';
import type { Runtime } from '../runtime/runtime.js';
import { taskWebUrl } from '../runtime/spaceClients.js';
import type { Section, StatusPageModel } from './model.js';
import { readLocks, withLockTaskLinks } from './readLocks.js';
import { readPromotions } from './readPromotions.js';
import { readRuns, withTaskLinks, type RunsLimits } from './readRuns.js';
import { readSets } from './readSets.js';

export interface StatusPageOptions {
  refreshSeconds: number;
  runs?: RunsLimits;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function section<T>(what: string, read: () => Promise<T>): Promise<Section<T>> {
  try {
    return { ok: true, value: await read() };
  } catch (err) {
    return {
      ok: false,
      message: `The ${what} could not be read from Table Storage (${describe(err)}). The page tries again on its next refresh.`,
    };
  }
}

function mapSection<T, U>(s: Section<T>, f: (value: T) => U): Section<U> {
  return s.ok ? { ok: true, value: f(s.value) } : s;
}

export async function readStatusPage(
  runtime: Runtime,
  options: StatusPageOptions,
): Promise<StatusPageModel> {
  const [sets, runs, locks, jobs, promotions, freezes] = await Promise.all([
    section('set status', () => readSets(runtime)),
    section('runs', () => readRuns(runtime.tables, options.runs)),
    section('locks', async () => readLocks(await runtime.tables.table(locksTableName))),
    section('timer job history', () => listJobRuns(runtime.tables)),
    section('promotion slots', () => readPromotions(runtime)),
    section('freezes', () => new FreezeStore(runtime.tables).inForce(runtime.clock.now())),
  ]);
  // Runs and locks know task ids but not space ids: they work in the default space, whose id the
  // poll recorded with the set status (so no Octopus call is needed to link to their tasks).
  const defaultSpace = (runtime.config.space ?? runtime.settings.octopusSpace).toLowerCase();
  const spaceId = sets.ok ? sets.value.spaceIds.get(defaultSpace) : undefined;
  const taskUrl = (taskId: string) => (spaceId ? taskWebUrl(runtime, spaceId, taskId) : undefined);
  return {
    generatedAt: runtime.clock.now(),
    refreshSeconds: options.refreshSeconds,
    octopusUrl: runtime.settings.octopus?.url,
    sets: mapSection(sets, (s) => s.section),
    runs: mapSection(runs, (r) => ({
      ...r,
      active: r.active.map((v) => withTaskLinks(v, taskUrl)),
      recent: r.recent.map((v) => withTaskLinks(v, taskUrl)),
    })),
    promotions,
    locks: mapSection(locks, (l) => withLockTaskLinks(l, taskUrl)),
    jobs,
    freezes,
  };
}
