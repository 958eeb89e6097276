// Stop the line: coordinator freezes, Octopus's deployment freezes, and the check every deployment passes.
export { freezeChecker, type FreezeSources } from './check.js';
export {
  coordinatorHit,
  coversEnvironment,
  describeFrozen,
  describeHit,
  isInForce,
  type Freeze,
  type FreezeCheck,
  type FreezeHit,
  type FreezeTarget,
  type FreezeVerdict,
} from './model.js';
export {
  octopusHits,
  occurrenceAt,
  readOctopusFreezes,
  type OctopusFreezeRead,
} from './octopusFreezes.js';
export { FreezeStore, freezeIdFor, type LiftOutcome } from './store.js';
