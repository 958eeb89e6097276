// Simulator scenarios more than one e2e test starts from.
import type { Scenario } from '../../dev/octopus-sim/index.js';

/** Two environments, Test then Production, in one lifecycle. */
export const testThenProduction: Pick<Scenario, 'environments' | 'lifecycles'> = {
  environments: ['Test', 'Production'],
  lifecycles: [
    {
      name: 'Default Lifecycle',
      phases: [{ environments: ['Test'] }, { environments: ['Production'] }],
    },
  ],
};

/**
 * The web stack (Database → Web API → Web App) in Test and Production: Production runs Database
 * 1.4.0, Web API 2.16.0 and Web App 3.2.0; Test is one release ahead for Database (1.5.0) and Web API
 * (2.17.0). `steps` names each project's steps (without `webApp`, the stack is Database and Web API
 * alone: no Web App, its releases or its history); `extra` adds releases and history (e.g. a Web App
 * release waiting in Test).
 */
export function webStackScenario(options: {
  steps: { database: string[]; webApi: string[]; webApp?: string[] };
  extra?: { releases?: Scenario['releases']; history?: Scenario['history'] };
  stepDurationMs: number;
  webhookBatchIntervalMs?: number;
}): Scenario {
  const webApp = options.steps.webApp;
  const inStack = (r: { project: string }) => webApp !== undefined || r.project !== 'Web App';
  return {
    ...testThenProduction,
    projects: [
      { name: 'Database', steps: options.steps.database },
      { name: 'Web API', steps: options.steps.webApi },
      ...(webApp ? [{ name: 'Web App', steps: webApp }] : []),
    ],
    releases: [
      { project: 'Database', version: '1.4.0' },
      { project: 'Database', version: '1.5.0' },
      { project: 'Web API', version: '2.16.0' },
      { project: 'Web API', version: '2.17.0' },
      { project: 'Web App', version: '3.2.0' },
    ]
      .filter(inStack)
      .concat(options.extra?.releases ?? []),
    history: [
      { project: 'Database', release: '1.4.0', environment: 'Test', minutesAgo: 300 },
      { project: 'Database', release: '1.4.0', environment: 'Production', minutesAgo: 290 },
      { project: 'Database', release: '1.5.0', environment: 'Test', minutesAgo: 100 },
      { project: 'Web API', release: '2.16.0', environment: 'Test', minutesAgo: 300 },
      { project: 'Web API', release: '2.16.0', environment: 'Production', minutesAgo: 290 },
      { project: 'Web API', release: '2.17.0', environment: 'Test', minutesAgo: 90 },
      { project: 'Web App', release: '3.2.0', environment: 'Test', minutesAgo: 200 },
      { project: 'Web App', release: '3.2.0', environment: 'Production', minutesAgo: 150 },
    ]
      .filter(inStack)
      .concat(options.extra?.history ?? []),
    stepDurationMs: options.stepDurationMs,
    ...(options.webhookBatchIntervalMs === undefined
      ? {}
      : { webhookBatchIntervalMs: options.webhookBatchIntervalMs }),
  };
}
