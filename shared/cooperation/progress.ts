// "Tell me when project B's deployment has reached step N": the deployment and its step, with a long poll.
// With `after` only a deployment queued at or after that moment (or that task's queue time) counts, so a
// waiting deployment never matches one that finished before it started.
import { setTimeout as sleep } from 'node:timers/promises';
import { CoordinatorError } from '../errors.js';
import { collect } from '../octopus/paging.js';
import { dashboardCell } from '../octopus/dashboard.js';
import { isFinishedTaskState } from '../octopus/enums.js';
import { isStepFinished, stepProgress, type StepState } from '../octopus/taskProgress.js';
import { OctopusError } from '../octopus/errors.js';
import type { OctopusClient } from '../octopus/client.js';
import { requireOctopus, type Runtime } from '../runtime/runtime.js';
import { resolveTarget, type Target } from '../octopus/target.js';
import { supersedingOf } from '../runs/superseded.js';

export interface ProgressRequest {
  project: string;
  environment: string;
  tenant?: string;
  /** Wait for this step: its number (1-based, as Octopus numbers them: "Step 3: …") or its name. */
  step?: number | string;
  /** Only a deployment of this release version counts. */
  release?: string;
  /**
   * Only a deployment queued at or after this counts: an ISO time, or a server task id
   * (`ServerTasks-123`, e.g. the waiting deployment's own `#{Octopus.Task.Id}`) meaning its queue time.
   */
  after?: string;
  /** Wait up to this long for `step` to finish (capped at maxWaitSeconds). */
  waitSeconds?: number;
}

export interface ProgressResult {
  project: string;
  environment: string;
  tenant: string | null;
  deploymentId: string;
  taskId: string;
  release: string;
  /** When the deployment was queued (created). */
  queued: string | null;
  /** The task's state: Queued, Executing, Success, Failed, … */
  state: string;
  taskFinished: boolean;
  steps: StepState[];
  /** The running step (or the next one between steps). */
  currentStep?: number;
  completedSteps: number;
  /** With `step`: that step, and whether it has finished (successfully or not). */
  step?: { number: number; name: string; status: string; done: boolean; succeeded: boolean };
  /** Set while the deployment waits for someone in Octopus (manual intervention, guided failure). */
  waitingFor?: string;
  /** Where to answer it in Octopus. */
  taskUrl?: string;
  /**
   * Octopus (2025.2+) cancelled this deployment because a newer one to the same target superseded it:
   * that one (not a failure of this one).
   */
  supersededBy?: { deploymentId: string; taskId: string; release?: string };
  waitedSeconds: number;
}

/** Azure's load balancer cuts HTTP calls at about 230 s. */
export const maxWaitSeconds = 200;
const pollMs = 1_000;
/** How many of the newest deployments of the cell are looked through for `after` / `release`. */
const searchDepth = 30;

interface Candidate {
  deploymentId: string;
  taskId: string;
  releaseId: string;
  release?: string;
  queued: string | null;
}

async function afterTime(
  octopus: OctopusClient,
  after: string | undefined,
): Promise<number | undefined> {
  if (after === undefined || after === '') return undefined;
  if (/^ServerTasks-\d+$/i.test(after)) {
    try {
      const task = await octopus.tasks.get(after);
      const at = Date.parse(task.QueueTime ?? task.StartTime ?? '');
      if (Number.isNaN(at))
        throw new CoordinatorError(
          'invalid',
          'bad_after',
          `Task ${after} has no queue time to compare with.`,
        );
      return at;
    } catch (error) {
      if (error instanceof OctopusError && error.status === 404)
        throw new CoordinatorError(
          'invalid',
          'bad_after',
          `after=${after}: Octopus has no such task in this space.`,
        );
      throw error;
    }
  }
  const at = Date.parse(after);
  if (Number.isNaN(at))
    throw new CoordinatorError(
      'invalid',
      'bad_after',
      `after=${after} is neither an ISO time (2026-12-02T07:00:00Z) nor a task id (ServerTasks-123).`,
    );
  return at;
}

/** The deployment the caller means: the cell's current one, or the newest that passes `after`/`release`. */
async function findDeployment(
  octopus: OctopusClient,
  target: Target,
  req: ProgressRequest,
  after: number | undefined,
): Promise<Candidate | undefined> {
  if (after === undefined && req.release === undefined) {
    const dashboard = await octopus.dashboard.dynamic({
      projects: [target.projectId],
      environments: [target.environmentId],
    });
    const current = dashboardCell(dashboard, target).current;
    return current
      ? {
          deploymentId: current.DeploymentId,
          taskId: current.TaskId,
          releaseId: current.ReleaseId,
          release: current.ReleaseVersion,
          queued: current.QueueTime ?? current.Created ?? null,
        }
      : undefined;
  }
  let releaseId: string | undefined;
  if (req.release !== undefined) {
    const release = await octopus.releases.byVersion(target.projectId, req.release);
    if (!release)
      throw new CoordinatorError(
        'not_found',
        'no_such_release',
        `${req.project} has no release ${req.release} in Octopus.`,
      );
    releaseId = release.Id;
  }
  const recent = await collect(
    octopus.deployments.list({
      projects: [target.projectId],
      environments: [target.environmentId],
      ...(target.tenantId ? { tenants: [target.tenantId] } : {}),
      pageSize: searchDepth,
      maxItems: searchDepth,
    }),
  );
  const match = recent.find(
    (d) =>
      (d.TenantId ?? null) === target.tenantId &&
      (releaseId === undefined || d.ReleaseId === releaseId) &&
      (after === undefined || Date.parse(d.Created ?? d.QueueTime ?? '') >= after),
  );
  if (!match) return undefined;
  return {
    deploymentId: match.Id,
    taskId: match.TaskId,
    releaseId: match.ReleaseId,
    ...(req.release !== undefined ? { release: req.release } : {}),
    queued: match.Created ?? match.QueueTime ?? null,
  };
}

function pickStep(
  req: ProgressRequest,
  steps: StepState[],
): { wanted?: StepState; known: boolean } {
  if (req.step === undefined) return { known: true };
  const wanted =
    typeof req.step === 'number'
      ? steps.find((x) => x.number === req.step)
      : steps.find((x) => x.name.toLowerCase() === String(req.step).trim().toLowerCase());
  // A queued deployment may not list its steps yet: nothing to check against.
  if (!wanted && steps.length > 0) {
    const list = steps.map((x) => `${x.number}: ${x.name}`).join(', ');
    throw new CoordinatorError(
      'invalid',
      'no_such_step',
      typeof req.step === 'number'
        ? `${req.project}'s deployment has ${steps.length} steps (${list}); there is no step ${req.step}.`
        : `${req.project}'s deployment has no step named "${req.step}". Its steps are: ${list}.`,
    );
  }
  return { wanted, known: wanted !== undefined };
}

/**
 * The deployment of the project in the environment (the current one, or the newest that passes
 * `after`/`release`) and the step it has reached. Octopus calls: one dashboard (or one deployments
 * page, plus a task read for `after=ServerTasks-…`), then one task-details read per second of waiting.
 */
export async function deploymentProgress(
  runtime: Runtime,
  req: ProgressRequest,
): Promise<ProgressResult> {
  const octopus = requireOctopus(runtime);
  const target = await resolveTarget(octopus, req);
  const after = await afterTime(octopus, req.after);
  const found = await findDeployment(octopus, target, req, after);
  const where = `${req.environment}${req.tenant ? ` for ${req.tenant}` : ''}`;
  if (!found) {
    const which = [
      req.release !== undefined ? `of release ${req.release}` : '',
      after !== undefined ? `queued since ${new Date(after).toISOString()}` : '',
    ]
      .filter((s) => s)
      .join(' ');
    throw new CoordinatorError(
      'not_found',
      'no_deployment',
      which
        ? `${req.project} has no deployment to ${where} ${which} yet.`
        : `${req.project} has never been deployed to ${where}, so there is no progress to report.`,
    );
  }
  const release = found.release ?? (await octopus.releases.get(found.releaseId)).Version;

  const started = Date.now();
  const waitMs = Math.min(req.waitSeconds ?? 0, maxWaitSeconds) * 1000;
  for (;;) {
    const details = await octopus.tasks.details(found.taskId, { tail: 0 });
    const progress = stepProgress(details);
    const taskFinished = isFinishedTaskState(details.Task.State);
    const { wanted } = pickStep(req, progress.steps);
    const step: ProgressResult['step'] = wanted
      ? {
          ...wanted,
          done: isStepFinished(wanted.status),
          succeeded: wanted.status === 'Success' || wanted.status === 'SuccessWithWarning',
        }
      : undefined;
    const paused = !taskFinished && details.Task.HasPendingInterruptions === true;
    const elapsed = Date.now() - started;
    const answer =
      step?.done === true || taskFinished || req.step === undefined || elapsed + pollMs > waitMs;
    if (answer) {
      const web = details.Task.Links?.Web;
      const taskUrl = web ? octopus.webUrl(web) : undefined;
      const types = details.Task.PendingInterruptionTypes ?? [];
      const superseding =
        details.Task.State === 'Canceled'
          ? await supersedingOf(octopus, {
              Id: found.taskId,
              Arguments: { DeploymentId: found.deploymentId },
            })
          : undefined;
      return {
        project: req.project,
        environment: req.environment,
        tenant: req.tenant ?? null,
        deploymentId: found.deploymentId,
        taskId: found.taskId,
        release,
        queued: found.queued,
        state: details.Task.State,
        taskFinished,
        steps: progress.steps,
        ...(progress.currentStep !== undefined ? { currentStep: progress.currentStep } : {}),
        completedSteps: progress.completedSteps,
        ...(step ? { step } : {}),
        ...(paused
          ? {
              waitingFor: `someone in Octopus (${types.length > 0 ? types.join(', ') : 'an interruption'} is pending)${taskUrl ? `: ${taskUrl}` : ''}`,
            }
          : {}),
        ...(taskUrl ? { taskUrl } : {}),
        ...(superseding
          ? {
              supersededBy: {
                deploymentId: superseding.deploymentId,
                taskId: superseding.taskId,
                ...(superseding.version ? { release: superseding.version } : {}),
              },
            }
          : {}),
        waitedSeconds: Math.round(elapsed / 1000),
      };
    }
    await sleep(pollMs);
  }
}
