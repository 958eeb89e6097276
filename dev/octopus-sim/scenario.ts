// The scenario a simulator is seeded with: names only (ids are assigned on load), times relative to load.
import { z } from 'zod';

export const tenantedDeploymentModes = ['Untenanted', 'TenantedOrUntenanted', 'Tenanted'] as const;
export type TenantedDeploymentMode = (typeof tenantedDeploymentModes)[number];

const environmentSchema = z.union([
  z.string().min(1),
  z.object({
    name: z.string().min(1),
    description: z.string().optional(),
    useGuidedFailure: z.boolean().optional(),
  }),
]);

const phaseSchema = z.object({
  name: z.string().min(1).optional(),
  /** Environment names; an empty list means "every environment not in another phase". */
  environments: z.array(z.string()).default([]),
  /** Deployed automatically by Octopus (listed as AutomaticDeploymentTargets; the simulator does not auto-deploy). */
  automatic: z.boolean().optional(),
  optional: z.boolean().optional(),
  /** 0 (default) means every environment of the phase. */
  minimumEnvironmentsBeforePromotion: z.number().int().min(0).optional(),
});

const lifecycleSchema = z.object({
  name: z.string().min(1),
  description: z.string().optional(),
  phases: z.array(phaseSchema).min(1),
});

const channelSchema = z.object({
  name: z.string().min(1),
  lifecycle: z.string().optional(),
  isDefault: z.boolean().optional(),
});

const runbookSchema = z.object({
  name: z.string().min(1),
  description: z.string().optional(),
  steps: z.array(z.string().min(1)).min(1),
});

const projectSchema = z.object({
  name: z.string().min(1),
  description: z.string().optional(),
  steps: z.array(z.string().min(1)).min(1),
  lifecycle: z.string().optional(),
  tenantedDeploymentMode: z.enum(tenantedDeploymentModes).default('Untenanted'),
  channels: z.array(channelSchema).optional(),
  runbooks: z.array(runbookSchema).optional(),
  /** Per-step duration for this project; falls back to the scenario's stepDurationMs. */
  stepDurationMs: z.number().int().min(0).optional(),
  /** Octopus.Task.ConcurrencyTag template; default "#{Octopus.Deployment.Tenant.Id}/#{Octopus.Project.Id}/#{Octopus.Environment.Id}". */
  concurrencyTag: z.string().optional(),
  isDisabled: z.boolean().optional(),
  /**
   * Octopus 2025.2+ "Cancel queued tasks": a new full-process deployment cancels older queued ones of
   * the same project/environment/tenant (superseded). On by default for projects created in Octopus
   * 2025.2+; off here unless set, like a project that predates the setting.
   */
  cancelQueuedTasks: z.boolean().optional(),
  /** "Cancel running tasks": a successful deployment cancels older paused ones of the same target. */
  cancelRunningTasks: z.boolean().optional(),
});

const tenantSchema = z.object({
  name: z.string().min(1),
  description: z.string().optional(),
  tags: z.array(z.string()).optional(),
  /** Project name -> environment names the tenant may be deployed to. */
  projectEnvironments: z.record(z.string(), z.array(z.string())).default({}),
});

const releaseSchema = z.object({
  project: z.string().min(1),
  version: z.string().min(1).max(349),
  channel: z.string().optional(),
  releaseNotes: z.string().optional(),
  /** When the release was created, in minutes before load; default: spaced out in list order. */
  createdMinutesAgo: z.number().min(0).optional(),
});

const historySchema = z.object({
  project: z.string().min(1),
  release: z.string().min(1),
  environment: z.string().min(1),
  tenant: z.string().optional(),
  outcome: z.enum(['Success', 'Failed', 'Canceled', 'TimedOut']).default('Success'),
  /** When the deployment was created (queued), in minutes before load. */
  minutesAgo: z.number().min(0),
  durationSeconds: z.number().min(0).optional(),
  /** For a Failed outcome: the 1-based step that failed (default the last). */
  failAtStep: z.number().int().min(1).optional(),
  deployedBy: z.string().optional(),
  comments: z.string().optional(),
});

export const scenarioSchema = z.object({
  space: z
    .object({ name: z.string().min(1).default('Default'), description: z.string().optional() })
    .default({ name: 'Default' }),
  /** In display (SortOrder) order. */
  environments: z.array(environmentSchema).min(1),
  lifecycles: z.array(lifecycleSchema).default([]),
  projects: z.array(projectSchema).default([]),
  tenants: z.array(tenantSchema).default([]),
  releases: z.array(releaseSchema).default([]),
  history: z.array(historySchema).default([]),
  /** Default duration of one step of a running task. */
  stepDurationMs: z.number().int().min(0).default(4000),
  /** How often subscriptions gather events into a batch. */
  webhookBatchIntervalMs: z.number().int().min(1).default(2000),
});

export type Scenario = z.input<typeof scenarioSchema>;
export type ParsedScenario = z.output<typeof scenarioSchema>;
export type ScenarioEnvironment = z.output<typeof environmentSchema>;
export type ScenarioLifecycle = z.output<typeof lifecycleSchema>;
export type ScenarioPhase = z.output<typeof phaseSchema>;
export type ScenarioProject = z.output<typeof projectSchema>;
export type ScenarioChannel = z.output<typeof channelSchema>;
export type ScenarioRunbook = z.output<typeof runbookSchema>;
export type ScenarioTenant = z.output<typeof tenantSchema>;
export type ScenarioRelease = z.output<typeof releaseSchema>;
export type ScenarioHistoryEntry = z.output<typeof historySchema>;

/** Parses a scenario (keys in any case) or throws an Error listing every problem by its path. */
export function parseScenario(input: unknown): ParsedScenario {
  const result = scenarioSchema.safeParse(camelizeKeys(input));
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    throw new Error(`The scenario is not valid: ${problems.join('; ')}`);
  }
  return result.data;
}

// Keys under these maps are names or ids, not field names, so their case is kept.
const keepKeysUnder = new Set(['projectEnvironments']);

/** Lower-cases the first letter of every key (PascalCase -> camelCase), except inside name-keyed maps. */
export function camelizeKeys(value: unknown, keepKeys = false): unknown {
  if (Array.isArray(value)) return value.map((item) => camelizeKeys(item));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    const name = keepKeys ? key : key.charAt(0).toLowerCase() + key.slice(1);
    out[name] = keepKeys ? camelizeKeys(inner) : camelizeKeys(inner, keepKeysUnder.has(name));
  }
  return out;
}
