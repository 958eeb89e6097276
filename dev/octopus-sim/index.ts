// The Octopus simulator's public surface: start it, and the scenario types.
export { defaultApiKey, startOctopusSimulator } from './server.js';
export type {
  LiveOptions,
  OctopusSimulator,
  OctopusSimulatorOptions,
  WebhookDelivery,
} from './server.js';
export type {
  ClockInput,
  CreateReleaseInput,
  FaultsInput,
  OutcomeScriptInput,
  RequestCounts,
  StepDurationInput,
} from './control.js';
export type { FaultInput } from './faults.js';
export { parseScenario } from './scenario.js';
export { sampleScenario } from './sampleScenario.js';
export type * from './scenario.js';
