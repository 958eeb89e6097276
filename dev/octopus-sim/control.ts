// The simulator's control API (/_sim/...), shared by the HTTP routes and the in-process methods.
import { z } from 'zod';
import type { SimContext } from './context.js';
import type { FaultInjector, FaultInput } from './faults.js';
import { faultsRequestSchema } from './faults.js';
import { createRelease } from './releaseFactory.js';
import { renderRelease } from './resources/releases.js';
import { camelizeKeys, parseScenario, type Scenario } from './scenario.js';
import { buildState } from './scenarioLoader.js';
import { activeTaskStates, find } from './store.js';
import { isoTime } from './time.js';
import type { WebhookDelivery } from './webhooks.js';

export class ControlError extends Error {}

const scriptSchema = z.object({
  project: z.string().min(1),
  environment: z.string().min(1),
  tenant: z.string().optional(),
  outcome: z.enum(['fail', 'success', 'manualIntervention']).default('fail'),
  /** 1-based; default the last step. */
  failAtStep: z.number().int().min(1).optional(),
  errorMessage: z.string().optional(),
  /** manualIntervention: the 1-based step that asks for it (default 1). */
  atStep: z.number().int().min(1).optional(),
  /** Guided failure on for these deployments: a failure pauses for Fail/Retry/Ignore/Exclude. */
  guidedFailure: z.boolean().optional(),
  count: z.number().int().min(1).default(1),
});
const projectSettingsSchema = z.object({
  project: z.string().min(1),
  cancelQueuedTasks: z.boolean().optional(),
  cancelRunningTasks: z.boolean().optional(),
});
const stepDurationSchema = z.object({
  ms: z.number().int().min(0),
  project: z.string().optional(),
});
const taskCapSchema = z.object({ cap: z.number().int().min(1).nullable() });
const clockSchema = z.object({
  action: z.enum(['pause', 'resume', 'advance']),
  ms: z.number().min(0).optional(),
});
const releaseSchema = z.object({
  project: z.string().min(1),
  version: z.string().min(1).optional(),
  channel: z.string().optional(),
  releaseNotes: z.string().optional(),
});
const webhookIntervalSchema = z.object({ ms: z.number().int().min(1) });

export type OutcomeScriptInput = z.input<typeof scriptSchema>;
export type StepDurationInput = z.input<typeof stepDurationSchema>;
export type ProjectSettingsInput = z.input<typeof projectSettingsSchema>;
export type ClockInput = z.input<typeof clockSchema>;
export type CreateReleaseInput = z.input<typeof releaseSchema>;
export type FaultsInput = FaultInput | { faults: FaultInput[] } | { clear: true };

export interface RequestCounts {
  total: number;
  byEndpoint: Record<string, number>;
  /** Characters of the longest request target (path and query) since the last reset. */
  longestUrl: number;
}

function parse<T extends z.ZodType>(schema: T, input: unknown, what: string): z.output<T> {
  const result = schema.safeParse(camelizeKeys(input));
  if (!result.success) {
    const problems = result.error.issues
      .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
      .join('; ');
    throw new ControlError(`The ${what} request is not valid: ${problems}`);
  }
  return result.data;
}

export class SimControl {
  readonly counts = new Map<string, number>();
  total = 0;
  longestUrl = 0;

  constructor(
    private readonly sim: SimContext,
    private readonly faultInjector: FaultInjector,
  ) {}

  countRequest(endpoint: string, urlLength = 0): void {
    this.total += 1;
    this.longestUrl = Math.max(this.longestUrl, urlLength);
    this.counts.set(endpoint, (this.counts.get(endpoint) ?? 0) + 1);
  }

  /** Replaces everything with the scenario (scripts, faults and counts are kept; subscriptions are not). */
  loadScenario(input: Scenario | unknown): {
    projects: number;
    environments: number;
    deployments: number;
  } {
    let parsed;
    try {
      parsed = parseScenario(input);
      this.sim.engine.reset(buildState(parsed, this.sim.clock.now(), this.sim.idOffset));
    } catch (error) {
      throw new ControlError(error instanceof Error ? error.message : String(error));
    }
    const state = this.sim.state();
    return {
      projects: state.projects.length,
      environments: state.environments.length,
      deployments: state.deployments.length,
    };
  }

  /** "The next deployment of Database to Production fails at step 2." */
  script(input: OutcomeScriptInput | unknown): { scripts: number } {
    const script = parse(scriptSchema, input, 'script');
    const state = this.sim.state();
    const project = find.project(state, script.project);
    const environment = find.environment(state, script.environment);
    const tenant = script.tenant ? find.tenant(state, script.tenant) : undefined;
    if (!project)
      throw new ControlError(
        `There is no project "${script.project}"; use a project name or id from the scenario.`,
      );
    if (!environment)
      throw new ControlError(
        `There is no environment "${script.environment}"; use an environment name or id from the scenario.`,
      );
    if (script.tenant && !tenant)
      throw new ControlError(
        `There is no tenant "${script.tenant}"; use a tenant name or id from the scenario.`,
      );
    this.sim.engine.scripts.push({
      projectId: project.id,
      environmentId: environment.id,
      tenantId: tenant?.id,
      outcome: script.outcome,
      failAtStep: script.failAtStep,
      errorMessage: script.errorMessage,
      atStep: script.atStep,
      guidedFailure: script.guidedFailure,
      remaining: script.count,
    });
    return { scripts: this.sim.engine.scripts.length };
  }

  /** Octopus's task cap (how many tasks execute at once); null removes it. */
  setTaskCap(input: unknown): { cap: number | null } {
    const body = parse(taskCapSchema, input, 'task-cap');
    this.sim.engine.setTaskCap(body.cap ?? undefined);
    return { cap: body.cap };
  }

  /** A project's superseded-task settings (Octopus 2025.2+ "Cancel queued/running tasks"). */
  projectSettings(input: ProjectSettingsInput | unknown): {
    project: string;
    cancelQueuedTasks: boolean;
    cancelRunningTasks: boolean;
  } {
    const body = parse(projectSettingsSchema, input, 'project-settings');
    const project = find.project(this.sim.state(), body.project);
    if (!project)
      throw new ControlError(
        `There is no project "${body.project}"; use a project name or id from the scenario.`,
      );
    this.sim.engine.catchUp();
    if (body.cancelQueuedTasks !== undefined) project.cancelQueuedTasks = body.cancelQueuedTasks;
    if (body.cancelRunningTasks !== undefined) project.cancelRunningTasks = body.cancelRunningTasks;
    return {
      project: project.id,
      cancelQueuedTasks: project.cancelQueuedTasks,
      cancelRunningTasks: project.cancelRunningTasks,
    };
  }

  setStepDuration(input: StepDurationInput | unknown): { ms: number; project: string | null } {
    const body = parse(stepDurationSchema, input, 'step-duration');
    const project = body.project ? find.project(this.sim.state(), body.project) : undefined;
    if (body.project && !project)
      throw new ControlError(
        `There is no project "${body.project}"; use a project name or id from the scenario.`,
      );
    this.sim.engine.catchUp();
    this.sim.engine.setStepDuration(body.ms, project?.id);
    return { ms: body.ms, project: project?.id ?? null };
  }

  setWebhookBatchInterval(input: { ms: number } | unknown): { ms: number } {
    const body = parse(webhookIntervalSchema, input, 'webhook-interval');
    this.sim.state().webhookBatchIntervalMs = body.ms;
    return body;
  }

  faults(input: FaultsInput | unknown): { faults: unknown[] } {
    const body = parse(faultsRequestSchema, input, 'faults');
    if ('clear' in body) this.faultInjector.clear();
    else if ('faults' in body) body.faults.forEach((f) => this.faultInjector.add(f));
    else this.faultInjector.add(body);
    return { faults: this.faultInjector.list() };
  }

  clock(input: ClockInput | unknown): { now: string; paused: boolean } {
    const body = parse(clockSchema, input, 'clock');
    const clock = this.sim.clock;
    if (body.action === 'pause') {
      this.sim.engine.catchUp();
      clock.pause();
    } else if (body.action === 'resume') clock.resume();
    else {
      if (body.ms === undefined)
        throw new ControlError('The clock request is not valid: advance needs "ms".');
      clock.advance(body.ms);
    }
    this.sim.engine.catchUp();
    return { now: isoTime(clock.now()), paused: clock.paused };
  }

  requests(): RequestCounts {
    return {
      total: this.total,
      byEndpoint: Object.fromEntries([...this.counts].sort(([a], [b]) => a.localeCompare(b))),
      longestUrl: this.longestUrl,
    };
  }

  resetRequests(): RequestCounts {
    this.counts.clear();
    this.total = 0;
    this.longestUrl = 0;
    return this.requests();
  }

  createRelease(input: CreateReleaseInput | unknown): Record<string, unknown> {
    const body = parse(releaseSchema, input, 'release');
    this.sim.engine.catchUp();
    try {
      const release = createRelease(this.sim.state(), body, this.sim.clock.now());
      return renderRelease(release, this.sim.state().space.id);
    } catch (error) {
      throw new ControlError(error instanceof Error ? error.message : String(error));
    }
  }

  /** Sends every pending event now (whatever the batch interval) and waits for the POSTs to finish. */
  async flushWebhooks(): Promise<{ deliveries: number }> {
    this.sim.engine.catchUp();
    this.sim.webhooks.process(this.sim.clock.now());
    await this.sim.webhooks.idle();
    return { deliveries: this.sim.webhooks.deliveries.length };
  }

  webhookDeliveries(): WebhookDelivery[] {
    return [...this.sim.webhooks.deliveries];
  }

  summary(): Record<string, unknown> {
    this.sim.engine.catchUp();
    const state = this.sim.state();
    return {
      now: isoTime(this.sim.clock.now()),
      clockPaused: this.sim.clock.paused,
      space: { id: state.space.id, name: state.space.name },
      projects: state.projects.map((p) => ({
        id: p.id,
        name: p.name,
        tenantedDeploymentMode: p.tenantedDeploymentMode,
        steps: p.steps,
        stepDurationMs: this.sim.engine.stepDuration(p.id),
        cancelQueuedTasks: p.cancelQueuedTasks,
        cancelRunningTasks: p.cancelRunningTasks,
      })),
      environments: state.environments.map((e) => ({ id: e.id, name: e.name })),
      tenants: state.tenants.map((t) => ({ id: t.id, name: t.name })),
      counts: {
        releases: state.releases.length,
        deployments: state.deployments.length,
        tasks: state.tasks.length,
        events: state.events.length,
        subscriptions: state.subscriptions.length,
        webhookDeliveries: this.sim.webhooks.deliveries.length,
      },
      activeTasks: state.tasks
        .filter((t) => activeTaskStates.includes(t.state))
        .map((t) => ({
          id: t.id,
          state: t.state,
          description: t.description,
          concurrencyTag: t.concurrencyTag,
          step: t.currentStep + 1,
          pausedOn: t.pausedOn ?? null,
        })),
      pendingInterruptions: state.interruptions
        .filter((i) => i.isPending)
        .map((i) => ({ id: i.id, type: i.type, taskId: i.taskId, title: i.title })),
      scripts: this.sim.engine.scripts,
      faults: this.faultInjector.list(),
      webhookBatchIntervalMs: state.webhookBatchIntervalMs,
      requests: this.requests(),
    };
  }
}
