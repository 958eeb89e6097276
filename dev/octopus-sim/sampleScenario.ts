// The sample scenario (scenarios/sample.json), validated: what the simulator loads by default.
import sample from './scenarios/sample.json' with { type: 'json' };
import { parseScenario, type Scenario } from './scenario.js';

export const sampleScenario: Scenario = parseScenario(sample);
