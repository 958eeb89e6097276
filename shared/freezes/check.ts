// The freeze check every deployment passes: the coordinator's freezes (Table Storage) and Octopus's, read once per checker.
import type { OctopusClient } from '../octopus/client.js';
import type { TableStore } from '../storage/tableStore.js';
import { coordinatorHit, coversEnvironment, type FreezeCheck, type Freeze } from './model.js';
import { octopusHits, readOctopusFreezes, type OctopusFreezeRead } from './octopusFreezes.js';
import { FreezeStore } from './store.js';

export interface FreezeSources {
  tables: TableStore;
  /** Absent: Octopus's freezes are not read (no Octopus configured). */
  octopus?: OctopusClient;
  now: () => Date;
}

/**
 * A check that reads each source once (one partition query, one Octopus call) and answers every
 * target from that. Make a new one for a fresh read: the last check before a deployment is created
 * uses its own.
 */
export function freezeChecker(sources: FreezeSources): FreezeCheck {
  let own: Promise<Freeze[]> | undefined;
  let octopus: Promise<OctopusFreezeRead> | undefined;
  return async (target) => {
    const at = sources.now();
    own ??= new FreezeStore(sources.tables).inForce(at);
    octopus ??= sources.octopus
      ? readOctopusFreezes(sources.octopus)
      : Promise.resolve({ freezes: [] });
    const [mine, theirs] = await Promise.all([own, octopus]);
    const hits = mine
      .filter((f) => coversEnvironment(f, { name: target.environment, id: target.environmentId }))
      .map(coordinatorHit);
    hits.push(...octopusHits(theirs.freezes, target, at));
    return {
      hits,
      notes: theirs.skipped ? [`Octopus deployment freezes not read: ${theirs.skipped}`] : [],
    };
  };
}
