// Conditions about what is deployed where, and Octopus's version ordering.
export {
  checkCondition,
  checkConditions,
  expandCondition,
  judgeLeaf,
  judgeLeaves,
  leafNeeds,
  type ConditionLeaf,
  type ConditionResult,
  type ConditionScope,
} from './evaluate.js';
export {
  DeploymentSnapshot,
  UnknownNamesError,
  emptyNeeds,
  isActiveState,
  mergeNeeds,
  readSnapshot,
  type NamedCell,
  type SnapshotNeeds,
} from './snapshot.js';
export {
  compareVersions,
  isSemanticVersion,
  parseVersionRange,
  satisfiesRange,
} from '../versions.js';
