// What the freezes API does: set a freeze (once per request id), list freezes with Octopus's, lift one.
import { CoordinatorError } from '../errors.js';
import { OctopusError } from '../octopus/errors.js';
import type { Runtime } from '../runtime/runtime.js';
import { isInForce, type Freeze } from './model.js';
import { readOctopusFreezes } from './octopusFreezes.js';
import { FreezeStore, freezeIdFor } from './store.js';

export interface FreezeRequest {
  environments?: string[];
  reason: string;
  by: string;
  until?: string;
  allowRollbacks: boolean;
  requestId?: string;
}

/** Octopus could not be asked (down, overloaded): a freeze must still be possible during an incident. */
function isUnreachable(err: unknown): boolean {
  return (
    err instanceof OctopusError &&
    (err.retryable || err.code === 'Timeout' || err.code === 'NetworkError' || err.status === 429)
  );
}

/**
 * Set a freeze. Environment names are checked with Octopus (an unknown one is a 400 naming it and
 * the known ones); when Octopus cannot be reached the freeze is still set, by name, and says so.
 */
export async function setFreeze(
  runtime: Runtime,
  req: FreezeRequest,
): Promise<{ freeze: Freeze; created: boolean; warnings: string[] }> {
  const now = runtime.clock.now();
  if (req.until !== undefined && Date.parse(req.until) <= now.getTime()) {
    throw new CoordinatorError(
      'invalid',
      'invalid_request',
      `until: ${req.until} is not in the future (now ${now.toISOString()}); leave it out to freeze until lifted.`,
    );
  }
  const warnings: string[] = [];
  let environmentIds: string[] = [];
  const environments = req.environments ? [...new Set(req.environments)] : null;
  if (environments && runtime.octopus) {
    try {
      environmentIds = await runtime.octopus.resolve.ids('environment', environments);
    } catch (err) {
      if (!isUnreachable(err)) throw err;
      warnings.push(
        `Octopus could not be reached to check the environment names (${(err as Error).message}); the freeze is set by name and matches environments of exactly these names.`,
      );
    }
  }
  const freeze: Freeze = {
    id: freezeIdFor(req.requestId, now),
    environments,
    environmentIds,
    reason: req.reason,
    by: req.by,
    createdAt: now.toISOString(),
    allowRollbacks: req.allowRollbacks,
    ...(req.until ? { until: new Date(req.until).toISOString() } : {}),
    ...(req.requestId ? { requestId: req.requestId } : {}),
  };
  const { freeze: stored, created } = await new FreezeStore(runtime.tables).create(freeze);
  return { freeze: stored, created, warnings };
}

export interface FreezeList {
  /** Coordinator freezes in force now. */
  inForce: Freeze[];
  /** Coordinator freezes that ended (lifted or past `until`) in the last 7 days, or all with `all`. */
  ended: Freeze[];
  /** Octopus's deployment freezes that have not ended, as Octopus has them; `skipped` says why none were read. */
  octopus: { freezes: unknown[]; skipped?: string; error?: string };
}

const recentMs = 7 * 24 * 60 * 60_000;

export async function listFreezes(runtime: Runtime, all: boolean): Promise<FreezeList> {
  const now = runtime.clock.now();
  const freezes = await new FreezeStore(runtime.tables).list();
  const ended = freezes.filter((f) => {
    if (isInForce(f, now)) return false;
    if (all) return true;
    const endedAt = f.liftedAt ?? f.until ?? f.createdAt;
    return now.getTime() - Date.parse(endedAt) < recentMs;
  });
  let octopus: FreezeList['octopus'] = { freezes: [], skipped: 'no Octopus server is configured' };
  if (runtime.octopus) {
    try {
      octopus = await readOctopusFreezes(runtime.octopus);
    } catch (err) {
      octopus = {
        freezes: [],
        error: `could not read Octopus's freezes: ${(err as Error).message}`,
      };
    }
  }
  return { inForce: freezes.filter((f) => isInForce(f, now)), ended, octopus };
}

/** Lift a freeze: 404 when there is none of that id; a repeat answers alreadyLifted. */
export async function liftFreeze(
  runtime: Runtime,
  id: string,
  by: string,
  reason: string | undefined,
): Promise<{ freeze: Freeze; alreadyLifted: boolean }> {
  const outcome = await new FreezeStore(runtime.tables).lift(id, by, reason, runtime.clock.now());
  if (!outcome.found)
    throw new CoordinatorError(
      'not_found',
      'unknown_freeze',
      `There is no freeze ${id}. GET /api/freezes lists them.`,
    );
  return { freeze: outcome.freeze, alreadyLifted: outcome.alreadyLifted };
}
