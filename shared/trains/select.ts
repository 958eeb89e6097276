// Choosing a train: the newest verified one of a set in an environment (and tenant), with the reason in
// words, or why none qualifies. Reads Table Storage only (one or two queries of the set's partition).
import { readableTime } from '../time/zones.js';
import type { TableStore } from '../storage/tableStore.js';
import { describeTrain, type Train } from './model.js';
import { TrainStore } from './store.js';

export interface TrainPlace {
  set: string;
  environment: string;
  environmentId: string;
  tenant: string | null;
  tenantId: string | null;
}

export type TrainChoice = { ok: true; train: Train; why: string } | { ok: false; why: string };

const where = (p: TrainPlace) => `${p.environment}${p.tenant ? ` for ${p.tenant}` : ''}`;

function stateInWords(t: Train, soakMinutes: number, zone: string): string {
  if (t.state === 'interrupted')
    return `was interrupted${t.interruptedAt ? ` ${readableTime(t.interruptedAt, zone)}` : ''}: ${t.interruption ?? 'a member changed'}`;
  const ends = t.standingSince
    ? new Date(Date.parse(t.standingSince) + soakMinutes * 60_000).toISOString()
    : undefined;
  return `is still soaking${ends ? ` (verified ${readableTime(ends, zone)} at the earliest, if it stands until then)` : ''}`;
}

/** The newest verified train of a set in one place; when there is none, why (naming the trains that are not). */
export async function chooseVerifiedTrain(
  tables: TableStore,
  place: TrainPlace,
  options: { soakMinutes: number; timeZone: string },
): Promise<TrainChoice> {
  const store = new TrainStore(tables);
  const [verified, unverified] = await Promise.all([
    store.verifiedIn(place.set, place.environmentId, place.tenantId),
    store.unverifiedIn(place.set, place.environmentId, place.tenantId),
  ]);
  const chosen = verified[0];
  const others = (after?: string) =>
    unverified
      .filter((t) => after === undefined || t.capturedAt > after)
      .slice(0, 3)
      .map(
        (t) =>
          `train ${describeTrain(t)} ${stateInWords(t, options.soakMinutes, options.timeZone)}`,
      );
  if (!chosen) {
    const pending = others();
    return {
      ok: false,
      why:
        pending.length > 0
          ? `no train of set ${place.set} has been verified in ${where(place)} yet: ${pending.join('; ')}`
          : `no train of set ${place.set} has been captured in ${where(place)} (capture one with POST /api/trains, or set "captureTrains" on a watch of the set)`,
    };
  }
  const newer = others(chosen.verifiedAt ?? undefined);
  const verifiedAt = chosen.verifiedAt ? readableTime(chosen.verifiedAt, options.timeZone) : '?';
  return {
    ok: true,
    train: chosen,
    why: `train ${chosen.id} is the newest verified train of set ${place.set} in ${where(place)} (verified ${verifiedAt} after standing ${chosen.verifiedSoakMinutes ?? options.soakMinutes} minutes)${newer.length > 0 ? `; newer, not chosen: ${newer.join('; ')}` : ''}`,
  };
}
