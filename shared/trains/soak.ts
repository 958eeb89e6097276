// Capturing a train from a status reading, and timing its soak. Every observation is one reading of
// Octopus's dashboard: the same current deployments on two readings prove that nothing was deployed
// there in between (a newer deployment, failed or not, would be the current one). How long it stood
// is measured between two such readings in storage time only (Table Storage's Date header), so no
// instance's clock and not Octopus's clock take part: clock skew cannot verify a train early, and a
// restart loses nothing (the first observation is stored).
import type { Log } from '../runtime/log.js';
import type { Runtime } from '../runtime/runtime.js';
import { octopusForSpace } from '../runtime/spaceClients.js';
import type { SetCell } from '../status/snapshot.js';
import { deploymentsFingerprint, trainIdOf, type Train, type TrainMember } from './model.js';
import { liveRowKey, TrainStore, type StoredTrain } from './store.js';

/** Added to each bound: the Date header's whole seconds, and skew between storage front ends. */
const storageGraceMs = 1000;

/** The set's soak in minutes, from the coordination config (default 60). */
export function soakMinutesOf(runtime: Runtime, set: string): number {
  return runtime.config.projectSets[set]?.soakMinutes ?? 60;
}

/** The combination a complete cell shows: its id and the deployments it stands on. */
export function combinationOf(cell: SetCell): { id: string; fingerprint: string } | undefined {
  if (cell.state !== 'complete') return undefined;
  const members: { projectId: string; releaseId: string }[] = [];
  const deployments: string[] = [];
  for (const p of cell.projects) {
    if (!p.current) return undefined;
    members.push({ projectId: p.projectId, releaseId: p.current.ReleaseId });
    deployments.push(p.current.DeploymentId || p.current.Id);
  }
  return {
    id: trainIdOf({
      set: cell.set,
      environmentId: cell.environmentId,
      tenantId: cell.tenant?.id ?? null,
      members,
    }),
    fingerprint: deploymentsFingerprint(deployments),
  };
}

/**
 * The storage-time bounds of one Octopus reading: `earliest` is no later than the reading and
 * `latest` no earlier. `storageNowMs` was read after the reading; `readAt` is when this instance
 * started the reading (its own clock, used only for the time elapsed since, which skew does not touch).
 */
export function readingBounds(
  runtime: Runtime,
  readAt: Date,
  storageNowMs: number,
): { earliest: number; latest: number } {
  const elapsed = Math.max(0, runtime.clock.now().getTime() - readAt.getTime());
  return {
    earliest: storageNowMs - elapsed - storageGraceMs,
    latest: storageNowMs + storageGraceMs,
  };
}

export type ObserveOutcome = 'verified' | 'soaking' | 'started' | 'alreadyVerified' | 'lost';

/**
 * One more reading that shows the train's releases standing on deployments `fingerprint`: start a
 * standing period (new deployments, or after an interruption), or verify it when the period has
 * lasted the soak. ETag-checked: a lost race leaves the winner's write (`lost`).
 */
export async function observeStanding(
  runtime: Runtime,
  stored: StoredTrain,
  fingerprint: string,
  bounds: { earliest: number; latest: number },
): Promise<{ outcome: ObserveOutcome; train: Train }> {
  const { train } = stored;
  if (train.verifiedAt) return { outcome: 'alreadyVerified', train };
  const store = new TrainStore(runtime.tables);
  if (stored.fingerprint !== fingerprint || !train.standingSince) {
    // From this reading on; it may well have stood before, but nothing here can prove since when.
    const standingSince = new Date(bounds.latest).toISOString();
    const written = await store.updateSoak(train.set, train.id, stored.etag, {
      standingFingerprint: fingerprint,
      standingSince,
      interruptedAt: '',
      interruption: '',
    });
    return written.ok
      ? {
          outcome: 'started',
          train: {
            ...train,
            state: 'soaking',
            standingSince,
            interruptedAt: null,
            interruption: null,
          },
        }
      : { outcome: 'lost', train };
  }
  const soakMinutes = soakMinutesOf(runtime, train.set);
  const stood = bounds.earliest - Date.parse(train.standingSince);
  if (stood < soakMinutes * 60_000) return { outcome: 'soaking', train };
  const verifiedAt = new Date(bounds.earliest).toISOString();
  const written = await store.updateSoak(train.set, train.id, stored.etag, {
    verifiedAt,
    verifiedSoakMinutes: soakMinutes,
  });
  return written.ok
    ? {
        outcome: 'verified',
        train: { ...train, state: 'verified', verifiedAt, verifiedSoakMinutes: soakMinutes },
      }
    : { outcome: 'lost', train };
}

/** Mark a train that was standing as interrupted (before it was verified), with the reason. */
export async function interrupt(
  runtime: Runtime,
  stored: StoredTrain,
  reason: string,
  storageNowMs: number,
): Promise<boolean> {
  if (stored.train.verifiedAt || !stored.train.standingSince) return false;
  const written = await new TrainStore(runtime.tables).updateSoak(
    stored.train.set,
    stored.train.id,
    stored.etag,
    {
      standingFingerprint: '',
      standingSince: '',
      interruptedAt: new Date(storageNowMs).toISOString(),
      interruption: reason.slice(0, 2000),
    },
  );
  return written.ok;
}

/** Who started each deployment, read once for all of them; an unreadable answer leaves nulls. */
async function deployedBy(runtime: Runtime, cell: SetCell, log: Log): Promise<Map<string, string>> {
  const client = octopusForSpace(runtime, cell.space);
  const out = new Map<string, string>();
  if (!client) return out;
  try {
    const ids = cell.projects.flatMap((p) =>
      p.current ? [p.current.DeploymentId || p.current.Id] : [],
    );
    for (const d of await client.deployments.getMany(ids))
      if (d.DeployedBy) out.set(d.Id, d.DeployedBy);
  } catch (err) {
    log.warn(
      `Train of ${cell.set} in ${cell.environment}: could not read who started the deployments (${(err as Error).message}); recorded as unknown.`,
    );
  }
  return out;
}

function membersOf(cell: SetCell, who: Map<string, string>): TrainMember[] {
  return cell.projects.flatMap((p): TrainMember[] => {
    const d = p.current;
    if (!d) return [];
    const deploymentId = d.DeploymentId || d.Id;
    return [
      {
        project: p.project,
        projectId: p.projectId,
        tenant: d.TenantId ? (cell.tenant?.name ?? d.TenantId) : null,
        releaseId: d.ReleaseId,
        version: d.ReleaseVersion,
        deploymentId,
        taskId: d.TaskId,
        wentLiveAt: d.CompletedTime ?? null,
        deployedBy: who.get(deploymentId) ?? null,
      },
    ];
  });
}

export interface CaptureResult {
  train: Train;
  /** False when the same combination had been captured before (by anyone): the same train. */
  created: boolean;
}

/**
 * Capture the combination a complete cell shows as a train, or find the train it already is.
 * Idempotent by content: any number of captures of one combination, at once or not, make one train.
 * The capture is also an observation of the train standing (it may start or even finish its soak).
 * `readAt`: when the reading the cell comes from was started (this instance's clock).
 */
export async function captureCell(
  runtime: Runtime,
  cell: SetCell,
  readAt: Date,
  by: string,
  log: Log,
): Promise<CaptureResult> {
  const combination = combinationOf(cell);
  if (!combination) throw new Error(`set ${cell.set} is not complete in ${cell.environment}`);
  const store = new TrainStore(runtime.tables);
  for (let attempt = 0; attempt < 3; attempt++) {
    const { stored, storageNowMs } = await store.read(cell.set, combination.id);
    const bounds = readingBounds(runtime, readAt, storageNowMs);
    if (stored) {
      const { train } = await observeStanding(runtime, stored, combination.fingerprint, bounds);
      await pointLive(runtime, cell, combination.id, train);
      return { train, created: false };
    }
    // Name the train in the live row before it exists: a crash between this and the create leaves a
    // row the poll keeps checking (one read a poll), never a captured train that no poll times.
    await pointLive(runtime, cell, combination.id, undefined);
    const who = await deployedBy(runtime, cell, log);
    const train: Train = {
      id: combination.id,
      set: cell.set,
      space: cell.space,
      spaceId: cell.spaceId,
      environment: cell.environment,
      environmentId: cell.environmentId,
      tenant: cell.tenant?.name ?? null,
      tenantId: cell.tenant?.id ?? null,
      members: membersOf(cell, who),
      capturedAt: new Date(storageNowMs).toISOString(),
      capturedBy: by,
      state: 'soaking',
      standingSince: new Date(bounds.latest).toISOString(),
      verifiedAt: null,
      verifiedSoakMinutes: null,
      interruptedAt: null,
      interruption: null,
    };
    const created = await store.create(train, combination.fingerprint);
    if (!created.ok) continue; // captured by someone else meanwhile: read theirs
    log.info(`Captured train ${train.id} of ${cell.set} in ${cell.environment} (${by}).`);
    await pointLive(runtime, cell, combination.id, train);
    return { train, created: true };
  }
  throw new Error(
    `Could not capture the train of ${cell.set} in ${cell.environment}: storage kept changing; try again.`,
  );
}

/**
 * Say in the live row that this cell's standing combination is train `id` (`train` once it exists).
 * Only fills in a row that shows the same combination (or none yet): a row showing another one is the
 * poll's to correct, and the poll reads the train whenever the combination it sees changes.
 */
async function pointLive(
  runtime: Runtime,
  cell: SetCell,
  id: string,
  train: Train | undefined,
): Promise<void> {
  const store = new TrainStore(runtime.tables);
  const key = liveRowKey(cell.set, cell.environmentId, cell.tenant?.id ?? null);
  const next = liveRowOf(cell, id, train, id);
  for (let attempt = 0; attempt < 3; attempt++) {
    const row = await store.getLive(key);
    if (row && row.comboId !== id) return;
    if (!train && row?.trainId === id) return;
    if (
      row &&
      row.trainId === id &&
      row.state === next.state &&
      row.verifiedAt === next.verifiedAt &&
      row.standingSince === next.standingSince
    )
      return;
    const written = await store.putLive(key, next, row?.etag);
    if (written.ok) return;
  }
}

/**
 * The live row of a cell showing combination `comboId`. `trainId` is the train's id when it exists,
 * or when a capture has named it (then kept until the combination changes, so a capture that died
 * before writing its train is checked again, not forgotten).
 */
export function liveRowOf(
  cell: Pick<SetCell, 'set' | 'environment' | 'environmentId' | 'tenant'>,
  comboId: string,
  train: Train | undefined,
  named = '',
) {
  return {
    set: cell.set,
    environment: cell.environment,
    environmentId: cell.environmentId,
    tenant: cell.tenant?.name ?? '',
    tenantId: cell.tenant?.id ?? '',
    comboId,
    trainId: train?.id ?? named,
    state: train?.state ?? ('' as const),
    standingSince: train?.standingSince ?? '',
    verifiedAt: train?.verifiedAt ?? '',
    capturedAt: train?.capturedAt ?? '',
  };
}
