// "Tell me when project B's deployment has reached step N": the running deployment and its step, with a long poll.
import { setTimeout as sleep } from 'node:timers/promises';
import { CoordinatorError } from '../errors.js';
import {
  dashboardCell,
  isFinishedTaskState,
  isStepFinished,
  stepProgress,
  type StepState,
} from '../octopus/index.js';
import { requireOctopus, type Runtime } from '../runtime/runtime.js';
import { resolveTarget } from '../octopus/target.js';

export interface ProgressRequest {
  project: string;
  environment: string;
  tenant?: string;
  /** Wait for this step (1-based, as Octopus numbers them: "Step 3: …"). */
  step?: number;
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
  /** The task's state: Queued, Executing, Success, Failed, … */
  state: string;
  taskFinished: boolean;
  steps: StepState[];
  /** The running step (or the next one between steps). */
  currentStep?: number;
  completedSteps: number;
  /** With `step`: that step, and whether it has finished (successfully or not). */
  step?: { number: number; name: string; status: string; done: boolean; succeeded: boolean };
  waitedSeconds: number;
}

/** Azure's load balancer cuts HTTP calls at about 230 s. */
export const maxWaitSeconds = 200;
const pollMs = 1_000;

/**
 * The current deployment (latest by creation, any state) of the project in the environment and the
 * step it has reached. Octopus calls: one dashboard, then one task-details read per second of waiting.
 */
export async function deploymentProgress(
  runtime: Runtime,
  req: ProgressRequest,
): Promise<ProgressResult> {
  const octopus = requireOctopus(runtime);
  const target = await resolveTarget(octopus, req);
  const dashboard = await octopus.dashboard.dynamic({
    projects: [target.projectId],
    environments: [target.environmentId],
  });
  const current = dashboardCell(dashboard, target).current;
  const where = `${req.environment}${req.tenant ? ` for ${req.tenant}` : ''}`;
  if (!current)
    throw new CoordinatorError(
      'not_found',
      'no_deployment',
      `${req.project} has never been deployed to ${where}, so there is no progress to report.`,
    );

  const started = Date.now();
  const waitMs = Math.min(req.waitSeconds ?? 0, maxWaitSeconds) * 1000;
  for (;;) {
    const details = await octopus.tasks.details(current.TaskId, { tail: 0 });
    const progress = stepProgress(details);
    const taskFinished = isFinishedTaskState(details.Task.State);
    let step: ProgressResult['step'];
    if (req.step !== undefined) {
      const s = progress.steps.find((x) => x.number === req.step);
      if (!s && progress.steps.length > 0) {
        throw new CoordinatorError(
          'invalid',
          'no_such_step',
          `${req.project}'s deployment has ${progress.steps.length} steps (${progress.steps.map((x) => `${x.number}: ${x.name}`).join(', ')}); there is no step ${req.step}.`,
        );
      }
      if (s)
        step = {
          ...s,
          done: isStepFinished(s.status),
          succeeded: s.status === 'Success' || s.status === 'SuccessWithWarning',
        };
    }
    const elapsed = Date.now() - started;
    const answer =
      step?.done === true || taskFinished || req.step === undefined || elapsed + pollMs > waitMs;
    if (answer) {
      return {
        project: req.project,
        environment: req.environment,
        tenant: req.tenant ?? null,
        deploymentId: current.DeploymentId,
        taskId: current.TaskId,
        release: current.ReleaseVersion,
        state: details.Task.State,
        taskFinished,
        steps: progress.steps,
        ...(progress.currentStep !== undefined ? { currentStep: progress.currentStep } : {}),
        completedSteps: progress.completedSteps,
        ...(step ? { step } : {}),
        waitedSeconds: Math.round(elapsed / 1000),
      };
    }
    await sleep(pollMs);
  }
}
