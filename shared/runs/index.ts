// The run engine: playbooks and promotions executed stage by stage, with rollback, crash safety and several instances.
export {
  advanceRun,
  advanceActiveRuns,
  advanceRunsWaitingOn,
  cancelRun,
  startRun,
  newRunId,
  defaultLeaseSeconds,
  InvalidPlanError,
  NoTrainError,
  type AdvanceOptions,
  type AdvanceResult,
  type CancelOutcome,
  type StartRunOptions,
} from './advance.js';
export {
  decide,
  deployDecision,
  newRunState,
  runMarker,
  parseRunMarker,
  watchedTaskIds,
} from './decide.js';
export { RunRejectedError, planConcurrency, groupLockName } from './concurrency.js';
export { renderGroup, defaultGroupTemplate } from './groups.js';
export { checkPlanNames } from './checkNames.js';
export { resolvePlanTrains, usesTrains, type TrainProblem } from './trainReleases.js';
export { dryRunPlan, type DryRunPlan, type DryRunAction } from './dryRun.js';
export {
  executeCommands,
  resolveDeploy,
  capturePrevious,
  observeTasks,
  type ExecutorPorts,
} from './executor.js';
export {
  planFromPlaybook,
  cellsToCapture,
  UnknownPlaybookError,
  type PlaybookOverrides,
} from './plan.js';
export { RunStore, runsTable, type RunSummary } from './store.js';
export { runView, runSummary, actionView, type RunView, type ActionView } from './view.js';
export { runFinishedMail } from './mail.js';
export { runsEventConsumer, runsStatusConsumer } from './consumers.js';
export { confirmDeploymentEvent, startRulesForEvent } from './rules.js';
export * from './types.js';
