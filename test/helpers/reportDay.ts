// Scripted deployment history for report tests: entries at absolute times, turned into a simulator scenario.
import type { Scenario } from '../../dev/octopus-sim/index.js';

export interface DayEntry {
  project: string;
  release: string;
  environment: string;
  tenant?: string;
  outcome?: 'Success' | 'Failed' | 'Canceled' | 'TimedOut';
  /** When the task finished (ISO, UTC). */
  completedAt: string;
  durationSeconds: number;
  deployedBy?: string;
  failAtStep?: number;
}

export const reportEnvironments = ['Development', 'Test', 'Production'];

/**
 * A scenario with three projects (one tenanted) whose history is `entries`. History times are relative to
 * the simulator's load time, so pass the `now` it is loaded at (entries must lie in the past).
 */
export function reportScenario(entries: readonly DayEntry[], now: number): Scenario {
  const versions = new Map<string, Set<string>>();
  for (const e of entries) {
    const set = versions.get(e.project) ?? new Set<string>();
    set.add(e.release);
    versions.set(e.project, set);
  }
  const projects = [
    { name: 'Database', steps: ['Back up database', 'Apply migrations'] },
    { name: 'Web API', steps: ['Deploy API', 'Smoke test'] },
    {
      name: 'Billing Worker',
      steps: ['Deploy worker', 'Run checks'],
      tenantedDeploymentMode: 'Tenanted' as const,
    },
  ];
  return {
    space: { name: 'Default' },
    environments: reportEnvironments,
    lifecycles: [{ name: 'Default Lifecycle', phases: [{ environments: [] }] }],
    projects,
    tenants: [
      { name: 'Acme Corp', projectEnvironments: { 'Billing Worker': reportEnvironments } },
      { name: 'Globex', projectEnvironments: { 'Billing Worker': reportEnvironments } },
    ],
    releases: projects.flatMap((p) =>
      [...(versions.get(p.name) ?? new Set(['0.0.1']))].map((version) => ({
        project: p.name,
        version,
        createdMinutesAgo: 60 * 24 * 400,
      })),
    ),
    history: entries.map((e) => {
      const created = Date.parse(e.completedAt) - e.durationSeconds * 1000;
      return {
        project: e.project,
        release: e.release,
        environment: e.environment,
        ...(e.tenant ? { tenant: e.tenant } : {}),
        outcome: e.outcome ?? 'Success',
        minutesAgo: (now - created) / 60_000,
        durationSeconds: e.durationSeconds,
        ...(e.deployedBy ? { deployedBy: e.deployedBy } : {}),
        ...(e.failAtStep ? { failAtStep: e.failAtStep } : {}),
      };
    }),
  };
}
