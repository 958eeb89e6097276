// Simulator scenarios more than one e2e test starts from.
import type { Scenario } from '../../dev/octopus-sim/index.js';

/**
 * The web stack (Database → Web API → Web App) in Test and Production: Production runs Database
 * 1.4.0, Web API 2.16.0 and Web App 3.2.0; Test is one release ahead for Database (1.5.0) and Web API
 * (2.17.0). `steps` names each project's steps; `extra` adds releases and history (e.g. a Web App
 * release waiting in Test).
 */
export function webStackScenario(options: {
  steps: { database: string[]; webApi: string[]; webApp: string[] };
  extra?: { releases?: Scenario['releases']; history?: Scenario['history'] };
  stepDurationMs: number;
  webhookBatchIntervalMs?: number;
}): Scenario {
  return {
    environments: ['Test', 'Production'],
    lifecycles: [
      {
        name: 'Default Lifecycle',
        phases: [{ environments: ['Test'] }, { environments: ['Production'] }],
      },
    ],
    projects: [
      { name: 'Database', steps: options.steps.database },
      { name: 'Web API', steps: options.steps.webApi },
      { name: 'Web App', steps: options.steps.webApp },
    ],
    releases: [
      { project: 'Database', version: '1.4.0' },
      { project: 'Database', version: '1.5.0' },
      { project: 'Web API', version: '2.16.0' },
      { project: 'Web API', version: '2.17.0' },
      { project: 'Web App', version: '3.2.0' },
      ...(options.extra?.releases ?? []),
    ],
    history: [
      { project: 'Database', release: '1.4.0', environment: 'Test', minutesAgo: 300 },
      { project: 'Database', release: '1.4.0', environment: 'Production', minutesAgo: 290 },
      { project: 'Database', release: '1.5.0', environment: 'Test', minutesAgo: 100 },
      { project: 'Web API', release: '2.16.0', environment: 'Test', minutesAgo: 300 },
      { project: 'Web API', release: '2.16.0', environment: 'Production', minutesAgo: 290 },
      { project: 'Web API', release: '2.17.0', environment: 'Test', minutesAgo: 90 },
      { project: 'Web App', release: '3.2.0', environment: 'Test', minutesAgo: 200 },
      { project: 'Web App', release: '3.2.0', environment: 'Production', minutesAgo: 150 },
      ...(options.extra?.history ?? []),
    ],
    stepDurationMs: options.stepDurationMs,
    ...(options.webhookBatchIntervalMs === undefined
      ? {}
      : { webhookBatchIntervalMs: options.webhookBatchIntervalMs }),
  };
}
