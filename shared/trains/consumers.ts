// Trains plugged into the status poll: each poll is one observation of every set × environment × tenant.
// It keeps the live rows (which combination stands where, and its train), times the soak of each
// captured train that stands, verifies it once it has stood its set's soakMinutes, and marks a train
// interrupted when a member changes or fails before that. Idle cost: one query of the live rows; a
// soaking train costs one point read per poll, and a write when its state changes.
import type { Log } from '../runtime/log.js';
import type { Runtime } from '../runtime/runtime.js';
import type { StatusConsumer } from '../status/consumers.js';
import type { SetCell, StatusSnapshot } from '../status/snapshot.js';
import { setOfTrainId, type Train } from './model.js';
import { combinationOf, interrupt, liveRowOf, observeStanding, readingBounds } from './soak.js';
import { liveRowKey, TrainStore, type LiveRow } from './store.js';

/** Why a cell no longer shows the train that stood there, in words. */
function whyNotStanding(cell: SetCell): string {
  const parts = cell.projects.flatMap((p) => {
    const d = p.current;
    if (!d) return [`${p.project} has no deployment there`];
    if (d.State === 'Success') return [];
    return [`${p.project} ${d.ReleaseVersion} is ${d.State}`];
  });
  return parts.length > 0
    ? `${parts.join('; ')} (set ${cell.state})`
    : `the set is ${cell.state} there`;
}

function whyReplaced(cell: SetCell): string {
  const versions = cell.projects
    .map((p) => (p.current ? `${p.project} ${p.current.ReleaseVersion}` : ''))
    .filter(Boolean)
    .join(', ');
  return `replaced by another combination (${versions})`;
}

/** One cell's pass; returns what it did, for the log. */
async function observeCell(
  runtime: Runtime,
  cell: SetCell,
  readAt: Date,
  row: (LiveRow & { etag: string }) | undefined,
): Promise<string | undefined> {
  const store = new TrainStore(runtime.tables);
  const combination = combinationOf(cell);
  const key = liveRowKey(cell.set, cell.environmentId, cell.tenant?.id ?? null);
  const interruptOld = async (reason: string) => {
    if (!row?.trainId || row.state === 'verified') return;
    const set = setOfTrainId(row.trainId) ?? cell.set;
    const { stored, storageNowMs } = await store.read(set, row.trainId);
    if (stored) await interrupt(runtime, stored, reason, storageNowMs);
  };
  if (!combination) {
    if (!row || row.comboId === '') return undefined;
    await interruptOld(whyNotStanding(cell));
    await store.putLive(key, liveRowOf(cell, '', undefined), row.etag);
    return row.trainId
      ? `train ${row.trainId} no longer stands: ${whyNotStanding(cell)}`
      : undefined;
  }
  if (row?.comboId === combination.id && (!row.trainId || row.state === 'verified'))
    return undefined; // nothing captured for this combination, or verified already: nothing to time
  if (row && row.comboId !== combination.id) await interruptOld(whyReplaced(cell));
  const { stored, storageNowMs } = await store.read(cell.set, combination.id);
  let train: Train | undefined;
  let outcome: string | undefined;
  if (stored) {
    const observed = await observeStanding(
      runtime,
      stored,
      combination.fingerprint,
      readingBounds(runtime, readAt, storageNowMs),
    );
    train = observed.train;
    if (observed.outcome === 'verified')
      outcome = `train ${train.id} verified: stood ${train.verifiedSoakMinutes ?? '?'} minutes in ${cell.environment}`;
  }
  // A train a capture named but has not written yet (or never will: it crashed) stays named.
  const named = row?.comboId === combination.id ? row.trainId : '';
  const next = liveRowOf(cell, combination.id, train, named);
  if (
    !row ||
    row.comboId !== next.comboId ||
    row.trainId !== next.trainId ||
    row.state !== next.state ||
    row.verifiedAt !== next.verifiedAt ||
    row.standingSince !== next.standingSince
  )
    await store.putLive(key, next, row?.etag); // a lost race: another instance wrote a reading as fresh
  return outcome;
}

/** One observation of every cell of the snapshot (sets that could not be read are left alone). */
export async function observeTrains(
  runtime: Runtime,
  snapshot: StatusSnapshot,
  log: Log,
): Promise<void> {
  const live = await new TrainStore(runtime.tables).liveRows();
  const unread = new Set(snapshot.problems.map((p) => p.set));
  const errors: string[] = [];
  for (const cell of snapshot.cells) {
    if (unread.has(cell.set) || unread.has('*')) continue;
    try {
      const said = await observeCell(
        runtime,
        cell,
        snapshot.takenAt,
        live.get(liveRowKey(cell.set, cell.environmentId, cell.tenant?.id ?? null)),
      );
      if (said) log.info(`Trains: ${said}.`);
    } catch (err) {
      errors.push(`${cell.set} in ${cell.environment}: ${(err as Error).message}`);
    }
  }
  if (errors.length > 0) throw new Error(`Trains could not be observed for ${errors.join('; ')}`);
}

export const trainsStatusConsumer: StatusConsumer = {
  name: 'trains',
  run: observeTrains,
};
