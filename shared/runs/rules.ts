// Rules: which configured rules an Octopus event fires, confirmed with Octopus, and the runs they start.
// One entry point (startRulesForEvent) for every way an event arrives (webhook, the poll of the events
// API), so each rule judges each event the same way; the run id comes from the rule and the event, so
// an event seen twice (both ways, two instances) starts one run.
import type { Rule } from '../config/coordination/rules.js';
import { relatedId, type OctopusWebhookEvent } from '../events/payload.js';
import { isOctopusError } from '../octopus/errors.js';
import type { Deployment } from '../octopus/deployments.js';
import type { OctopusClient } from '../octopus/client.js';
import { resolveTarget, type Target } from '../octopus/target.js';
import type { Log } from '../runtime/log.js';
import type { Runtime } from '../runtime/runtime.js';
import { newRunId, NoTrainError, startRun } from './advance.js';
import { planFromPlaybook } from './plan.js';
import { parseRunMarker } from './runMarker.js';
import { RunStore } from './store.js';
import type { RuleLink } from './types.js';

/** Task states that bear out an event's claim; categories not listed only need the deployment to exist. */
const claimedStates: Record<string, readonly string[]> = {
  DeploymentSucceeded: ['Success'],
  DeploymentFailed: ['Failed', 'TimedOut', 'Canceled'],
  DeploymentStarted: ['Executing', 'Cancelling', 'Success', 'Failed', 'TimedOut', 'Canceled'],
  DeploymentResumed: ['Executing', 'Cancelling', 'Success', 'Failed', 'TimedOut', 'Canceled'],
};

/** What Octopus itself says about the deployment an event names: the fact a rule acts on. */
export interface ConfirmedDeployment {
  deployment: Deployment;
  taskState: string;
  /** The coordinator run that created it (from the `coordinator run=…` marker in its Comments). */
  byRun: string | undefined;
}

export type Confirmation =
  { kind: 'confirmed'; confirmed: ConfirmedDeployment } | { kind: 'refused'; why: string };

/**
 * Events are hints: read the deployment the event names and check it is what the event says (its
 * project, environment, tenant, and a task state that matches the category). A deployment Octopus does
 * not know is a refusal; Octopus being unreachable throws, so the event is retried later.
 */
export async function confirmDeploymentEvent(
  octopus: OctopusClient,
  event: OctopusWebhookEvent,
): Promise<Confirmation> {
  const deploymentId = relatedId(event, 'Deployments');
  if (!deploymentId)
    return { kind: 'refused', why: 'it names no deployment, so Octopus cannot confirm it' };
  if (event.SpaceId && event.SpaceId !== (await octopus.spaceId()))
    return { kind: 'refused', why: `it is from space ${event.SpaceId}, not the rules' space` };
  let deployment: Deployment;
  try {
    deployment = await octopus.deployments.get(deploymentId);
  } catch (err) {
    if (isOctopusError(err) && err.status === 404)
      return { kind: 'refused', why: `Octopus has no deployment ${deploymentId}` };
    throw err;
  }
  const mismatch = (
    kind: string,
    claimed: string | undefined,
    actual: string | null | undefined,
  ) =>
    (claimed ?? null) !== (actual ?? null)
      ? `it says ${deploymentId} is in ${kind} ${claimed ?? 'none'}, Octopus says ${actual ?? 'none'}`
      : undefined;
  const wrong =
    mismatch('project', relatedId(event, 'Projects'), deployment.ProjectId) ??
    mismatch('environment', relatedId(event, 'Environments'), deployment.EnvironmentId) ??
    mismatch('tenant', relatedId(event, 'Tenants'), deployment.TenantId);
  if (wrong) return { kind: 'refused', why: wrong };
  let taskState: string;
  try {
    taskState = (await octopus.tasks.get(deployment.TaskId)).State;
  } catch (err) {
    if (isOctopusError(err) && err.status === 404)
      return {
        kind: 'refused',
        why: `Octopus has no task ${deployment.TaskId} for ${deploymentId}`,
      };
    throw err;
  }
  const allowed = claimedStates[event.Category];
  if (allowed && !allowed.includes(taskState))
    return {
      kind: 'refused',
      why: `it claims ${event.Category}, but Octopus says the task of ${deploymentId} is ${taskState}`,
    };
  return {
    kind: 'confirmed',
    confirmed: { deployment, taskState, byRun: parseRunMarker(deployment.Comments)?.runId },
  };
}

/** The rules whose `when` names this event's category, project, environment (and tenant, if any). */
async function matchingRules(
  runtime: Runtime,
  octopus: OctopusClient,
  event: OctopusWebhookEvent,
  log: Log,
): Promise<Rule[]> {
  const projectId = relatedId(event, 'Projects');
  const environmentId = relatedId(event, 'Environments');
  const tenantId = relatedId(event, 'Tenants');
  const out: Rule[] = [];
  for (const rule of runtime.config.rules) {
    if (rule.when.category !== event.Category) continue;
    let target: Target;
    try {
      target = await resolveTarget(octopus, rule.when);
    } catch (err) {
      // A rule naming something Octopus does not have can never match: say so, do not fail the event.
      log.warn(`Rule ${rule.name} was skipped: ${(err as Error).message}`);
      continue;
    }
    if (
      target.projectId === projectId &&
      target.environmentId === environmentId &&
      (target.tenantId === null || target.tenantId === tenantId)
    )
      out.push(rule);
  }
  return out;
}

const describeChain = (chain: readonly RuleLink[]): string =>
  chain
    .map((l) => `${l.rule} on ${l.deploymentId}${l.byRun ? ` (made by run ${l.byRun})` : ''}`)
    .join(' → ');

/**
 * Start the playbooks of the rules this event fires. A rule ignores deployments the coordinator made
 * unless it opts in (`includeCoordinatorDeployments`); a run started that way carries on the chain of
 * the run that made the deployment, and a chain longer than `ruleChainDepth` is refused and logged.
 * Idempotent: the run id comes from the rule and the event.
 */
export async function startRulesForEvent(
  runtime: Runtime,
  event: OctopusWebhookEvent,
  log: Log,
): Promise<string[]> {
  const octopus = runtime.octopus;
  if (!octopus || !runtime.config.rules.some((r) => r.when.category === event.Category)) return [];
  const rules = await matchingRules(runtime, octopus, event, log);
  if (rules.length === 0) return [];

  const confirmation = await confirmDeploymentEvent(octopus, event);
  if (confirmation.kind === 'refused') {
    log.warn(
      `Event ${event.Id} (${event.Category}) matches rule(s) ${rules.map((r) => r.name).join(', ')} but starts nothing: ${confirmation.why}.`,
    );
    return [];
  }
  const { deployment, byRun } = confirmation.confirmed;

  let before: RuleLink[] | undefined = [];
  if (byRun) {
    const wanted = rules.filter((r) => r.includeCoordinatorDeployments);
    for (const r of rules.filter((r) => !r.includeCoordinatorDeployments))
      log.info(
        `Rule ${r.name} ignores event ${event.Id}: ${deployment.Id} was made by coordinator run ${byRun} (set "includeCoordinatorDeployments": true to act on those).`,
      );
    if (wanted.length === 0) return [];
    const maker = await new RunStore(runtime.tables).get(byRun);
    // A run with no chain was started by a person, a schedule or a promotion: the chain starts here.
    before = maker ? (maker.state.trigger.chain ?? []) : undefined;
    rules.splice(0, rules.length, ...wanted);
  }

  const started: string[] = [];
  for (const rule of rules) {
    if (before === undefined) {
      log.warn(
        `Rule ${rule.name} refused event ${event.Id}: ${deployment.Id} was made by run ${byRun ?? '?'}, which is no longer stored, so the chain of rules behind it is unknown.`,
      );
      continue;
    }
    const chain: RuleLink[] = [
      ...before,
      {
        rule: rule.name,
        eventId: event.Id,
        deploymentId: deployment.Id,
        ...(byRun ? { byRun } : {}),
      },
    ];
    if (chain.length > runtime.config.ruleChainDepth) {
      log.warn(
        `Rule ${rule.name} refused event ${event.Id}: it would make a chain of ${chain.length} rule-started runs (${describeChain(chain)}), longer than ruleChainDepth ${runtime.config.ruleChainDepth}.`,
      );
      continue;
    }
    const plan = planFromPlaybook(runtime.config, rule.start, {});
    const occurred = new Date(event.Occurred);
    const runId = newRunId(
      Number.isNaN(occurred.getTime()) ? runtime.clock.now() : occurred,
      `${rule.name}|${event.Id}`,
    );
    let startedRun: Awaited<ReturnType<typeof startRun>>;
    try {
      startedRun = await startRun(
        runtime,
        plan,
        { kind: 'rule', by: rule.name, eventId: event.Id, chain },
        { runId, log },
      );
    } catch (err) {
      // No release train to take is an answer, not a failure to retry: the event started nothing.
      if (!(err instanceof NoTrainError)) throw err;
      log.warn(`Rule ${rule.name}: event ${event.Id} started nothing: ${err.message}`);
      continue;
    }
    const { state, created } = startedRun;
    if (created) {
      log.info(
        `Rule ${rule.name}: event ${event.Id} (${event.Category}) about ${deployment.Id} started run ${state.id} of playbook ${rule.start}.`,
      );
      started.push(state.id);
    }
  }
  return started;
}
