// Which train is live in each set × environment (× tenant), for GET /api/status and the status page:
// one query of the live rows, matched to each recorded cell by the id its releases give.
import type { Runtime } from '../runtime/runtime.js';
import { trainIdOf, type TrainState } from './model.js';
import { soakMinutesOf } from './soak.js';
import { liveRowKey, TrainStore, type LiveRow } from './store.js';

export interface LiveTrain {
  id: string;
  state: TrainState;
  verified: boolean;
  verifiedAt: string | null;
  standingSince: string | null;
  /** When it is verified if it stands until then (soaking only). */
  soakEndsAt: string | null;
  capturedAt: string;
}

/** A recorded cell, as far as the live train needs it. */
export interface CellReleases {
  set: string;
  environmentId: string;
  tenantId: string;
  state: string;
  projects: readonly { projectId: string; releaseId: string | null; state: string | null }[];
}

export class LiveTrains {
  private constructor(
    private readonly runtime: Runtime,
    private readonly rows: Map<string, LiveRow>,
  ) {}

  static async read(runtime: Runtime): Promise<LiveTrains> {
    return new LiveTrains(runtime, await new TrainStore(runtime.tables).liveRows());
  }

  /** The train live in this cell: captured, and the combination the cell shows now. */
  of(cell: CellReleases): LiveTrain | null {
    if (cell.state !== 'complete') return null;
    const members: { projectId: string; releaseId: string }[] = [];
    for (const p of cell.projects) {
      if (!p.releaseId) return null;
      members.push({ projectId: p.projectId, releaseId: p.releaseId });
    }
    const tenantId = cell.tenantId || null;
    const id = trainIdOf({ set: cell.set, environmentId: cell.environmentId, tenantId, members });
    const row = this.rows.get(liveRowKey(cell.set, cell.environmentId, tenantId));
    // A train a capture has named but not written yet is not shown.
    if (!row || row.comboId !== id || row.trainId !== id || !row.state) return null;
    const state = row.state;
    const soak = soakMinutesOf(this.runtime, cell.set);
    return {
      id,
      state,
      verified: state === 'verified',
      verifiedAt: row.verifiedAt || null,
      standingSince: row.standingSince || null,
      soakEndsAt:
        state === 'soaking' && row.standingSince
          ? new Date(Date.parse(row.standingSince) + soak * 60_000).toISOString()
          : null,
      capturedAt: row.capturedAt,
    };
  }
}
