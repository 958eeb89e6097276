// The runs engine plugged into the status poll (advance every active run) and webhook events (advance at once; start rules).
import type { EventConsumer, EventContext } from '../events/consumers.js';
import { relatedId, type OctopusWebhookEvent } from '../events/payload.js';
import type { Log } from '../runtime/log.js';
import type { Runtime } from '../runtime/runtime.js';
import type { StatusConsumer } from '../status/consumers.js';
import { advanceActiveRuns, advanceRunsWaitingOn, newRunId, startRun } from './advance.js';
import { planFromPlaybook } from './plan.js';
import { RunStore, type RunSummary } from './store.js';

export const runsStatusConsumer: StatusConsumer = {
  name: 'runs',
  async run(runtime, _snapshot, log) {
    if (!runtime.octopus) return;
    const { advanced, failed } = await advanceActiveRuns(runtime, log);
    if (advanced.length > 0 || failed.length > 0)
      log.info(`Runs: advanced ${advanced.length}, failed to advance ${failed.length}.`);
    if (failed.length > 0)
      throw new Error(
        `Runs ${failed.join(', ')} could not advance; they are retried on the next poll.`,
      );
  },
};

/** Start the playbooks of the rules this event matches. Idempotent: the run id comes from the rule and the event. */
export async function startRulesForEvent(
  runtime: Runtime,
  event: OctopusWebhookEvent,
  log: Log,
): Promise<string[]> {
  const octopus = runtime.octopus;
  const rules = runtime.config.rules.filter((r) => r.when.category === event.Category);
  if (rules.length === 0 || !octopus) return [];
  const projectId = relatedId(event, 'Projects');
  const environmentId = relatedId(event, 'Environments');
  const tenantId = relatedId(event, 'Tenants');
  const started: string[] = [];
  for (const rule of rules) {
    let p: string, e: string, t: string | undefined;
    try {
      [p, e, t] = await Promise.all([
        octopus.resolve.projectId(rule.when.project),
        octopus.resolve.environmentId(rule.when.environment),
        rule.when.tenant ? octopus.resolve.tenantId(rule.when.tenant) : Promise.resolve(undefined),
      ]);
    } catch (err) {
      // A rule naming something Octopus does not have can never match: say so, do not fail the event.
      log.warn(`Rule ${rule.name} was skipped: ${(err as Error).message}`);
      continue;
    }
    if (p !== projectId || e !== environmentId || (t !== undefined && t !== tenantId)) continue;
    const plan = planFromPlaybook(runtime.config, rule.start, {});
    const occurred = new Date(event.Occurred);
    const runId = newRunId(
      Number.isNaN(occurred.getTime()) ? runtime.clock.now() : occurred,
      `${rule.name}|${event.Id}`,
    );
    const { state, created } = await startRun(
      runtime,
      plan,
      { kind: 'rule', by: rule.name, eventId: event.Id },
      { runId, log },
    );
    if (created) {
      log.info(
        `Rule ${rule.name}: event ${event.Id} (${event.Category}) started run ${state.id} of playbook ${rule.start}.`,
      );
      started.push(state.id);
    }
  }
  return started;
}

/** The pass's list of active runs, read by the first event that needs it; a failed read is not kept. */
async function activeRunsOfPass(runtime: Runtime, context: EventContext): Promise<RunSummary[]> {
  const listing = (context.activeRuns ??= new RunStore(runtime.tables).list({ active: true }));
  try {
    return await listing;
  } catch (err) {
    if (context.activeRuns === listing) delete context.activeRuns;
    throw err;
  }
}

export const runsEventConsumer: EventConsumer = {
  name: 'runs',
  async handle(runtime, event, log, context) {
    if (!runtime.octopus) return;
    const taskId = relatedId(event, 'ServerTasks');
    if (taskId)
      await advanceRunsWaitingOn(runtime, [taskId], log, await activeRunsOfPass(runtime, context));
    const started = await startRulesForEvent(runtime, event, log);
    if (started.length > 0) delete context.activeRuns;
  },
};
