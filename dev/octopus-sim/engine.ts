// Runs tasks on the simulator's clock: queueing per concurrency tag, steps one by one, scripted outcomes, cancel.
import type { SimClock } from './clock.js';
import { appendDeploymentEvent, systemActor, type Actor } from './eventLog.js';
import { activeFreeze } from './freezes.js';
import { promotableEnvironments } from './lifecycleRules.js';
import {
  activeTaskStates,
  find,
  idNumber,
  nextId,
  pendingInterruptionsOf,
  type DeploymentOptions,
  type DeploymentRecord,
  type InterruptionRecord,
  type InterruptionType,
  type RunbookRunRecord,
  type SimState,
  type StepRecord,
  type TaskRecord,
} from './store.js';
import { isoTime } from './time.js';

/** A request the simulator refuses as Octopus would, with a 400 and the listed problems. */
export class SimValidationError extends Error {
  constructor(
    readonly errors: string[],
    readonly status = 400,
  ) {
    super(errors.join(' '));
  }
}

export interface OutcomeScript {
  projectId: string;
  environmentId: string;
  /** undefined = any tenant. */
  tenantId: string | undefined;
  outcome: 'fail' | 'success' | 'manualIntervention';
  failAtStep: number | undefined;
  errorMessage: string | undefined;
  /** manualIntervention: the 1-based step that asks for it (default 1). */
  atStep?: number;
  /** Guided failure on for these deployments (as the variable Octopus.UseGuidedFailure would). */
  guidedFailure?: boolean;
  remaining: number;
}

/** An answer to an interruption, as POST /interruptions/{id}/submit carries it. */
export type InterruptionAnswer =
  { result: 'Proceed' | 'Abort' } | { guidance: 'Fail' | 'Retry' | 'Ignore' | 'Exclude' };

/** Something else that acts on the clock (webhook batches, live mode). */
export interface ClockParticipant {
  nextDue(): number | undefined;
  process(at: number): void;
}

export interface DeploymentRequest {
  releaseId: string;
  environmentId: string;
  tenantId: string | null;
  projectId: string | undefined;
  channelId: string | undefined;
  comments: string | null;
  queueTime: number | undefined;
  queueTimeExpiry: number | undefined;
  options: DeploymentOptions;
}

export const defaultDeploymentOptions = (): DeploymentOptions => ({
  skipActions: [],
  specificMachineIds: [],
  excludedMachineIds: [],
  forcePackageDownload: false,
  forcePackageRedeployment: false,
  useGuidedFailure: false,
  priority: 'LifecycleDefault',
  debugMode: 'None',
  formValues: {},
});

export const workerName = 'sim-worker-01';
const cancelDelayMs = 200;

export class SimEngine {
  scripts: OutcomeScript[] = [];
  private stepDurationOverride: number | undefined;
  private projectStepDurations = new Map<string, number>();
  private processedUpTo: number;
  private participants: ClockParticipant[] = [];
  private processing = false;

  constructor(
    public state: SimState,
    readonly clock: SimClock,
    private readonly onChange: () => void = () => undefined,
  ) {
    this.processedUpTo = clock.now();
  }

  /** Replaces the state (a scenario load); scripts and duration overrides are cleared. */
  reset(state: SimState): void {
    this.state = state;
    this.scripts = [];
    this.stepDurationOverride = undefined;
    this.projectStepDurations.clear();
    this.processedUpTo = this.clock.now();
    this.onChange();
  }

  addParticipant(participant: ClockParticipant): void {
    this.participants.push(participant);
  }

  /** Octopus's task cap: at most this many tasks execute at once (undefined: no cap). */
  taskCap: number | undefined;

  setTaskCap(cap: number | undefined): void {
    this.taskCap = cap;
    this.catchUp();
  }

  setStepDuration(ms: number, projectId?: string): void {
    if (projectId) this.projectStepDurations.set(projectId, ms);
    else {
      this.stepDurationOverride = ms;
      this.projectStepDurations.clear();
    }
  }

  stepDuration(projectId: string): number {
    const project = find.project(this.state, projectId);
    return (
      this.projectStepDurations.get(projectId) ??
      this.stepDurationOverride ??
      project?.stepDurationMs ??
      this.state.defaultStepDurationMs
    );
  }

  /** Brings every task and participant up to the clock's present. */
  catchUp(): void {
    this.advanceTo(this.clock.now());
  }

  advanceTo(target: number): void {
    if (this.processing) return;
    this.processing = true;
    try {
      for (let guard = 0; guard < 1_000_000; guard += 1) {
        const due = this.nextDue();
        if (due === undefined || due > target) break;
        this.processAt(Math.max(due, this.processedUpTo));
      }
      this.processedUpTo = Math.max(this.processedUpTo, target);
    } finally {
      this.processing = false;
    }
    this.onChange();
  }

  nextDue(): number | undefined {
    let due: number | undefined;
    const consider = (at: number | undefined): void => {
      if (at !== undefined && (due === undefined || at < due)) due = at;
    };
    for (const task of this.activeTasks()) {
      if (task.pausedOn !== undefined) continue;
      if (task.state === 'Queued') {
        if (task.startTime === undefined) consider(task.queueTimeExpiry);
        if (task.queueTime !== undefined && task.queueTime > this.processedUpTo)
          consider(task.queueTime);
      } else if (task.state === 'Executing') consider(task.stepEndsAt);
      else consider(task.cancelAt);
    }
    for (const participant of this.participants) consider(participant.nextDue());
    return due;
  }

  private activeTasks(): TaskRecord[] {
    return this.state.tasks.filter((t) => activeTaskStates.includes(t.state));
  }

  private processAt(at: number): void {
    this.processedUpTo = at;
    for (const task of this.activeTasks()) {
      if (
        task.state === 'Queued' &&
        task.startTime === undefined &&
        task.queueTimeExpiry !== undefined &&
        at >= task.queueTimeExpiry
      ) {
        this.finish(
          task,
          'TimedOut',
          at,
          'The task was not started before its queue time expired.',
        );
      } else if (
        task.state === 'Executing' &&
        task.stepEndsAt !== undefined &&
        task.stepEndsAt <= at
      ) {
        this.endStep(task, task.stepEndsAt);
      } else if (
        task.state === 'Cancelling' &&
        task.cancelAt !== undefined &&
        task.cancelAt <= at
      ) {
        this.finish(task, 'Canceled', task.cancelAt, 'The task was canceled.');
      }
    }
    this.startEligible(at);
    for (const participant of this.participants) {
      const due = participant.nextDue();
      if (due !== undefined && due <= at) participant.process(at);
    }
  }

  /**
   * Starts (or resumes, after a manual intervention was answered), per concurrency tag, the first
   * queued task whose queue time has come, if the tag is free. A task paused on a manual
   * intervention reads Queued and holds no slot (Issues#3893), so others may run meanwhile.
   */
  private startEligible(at: number): void {
    const busy = new Set(
      this.state.tasks
        .filter((t) => t.state === 'Executing' || t.state === 'Cancelling')
        .map((t) => t.concurrencyTag),
    );
    // Octopus 2024.4+: priority tasks (a deployment created with Priority "On") go first, then first in, first out.
    const priority = (t: TaskRecord): number =>
      t.deploymentId && find.deployment(this.state, t.deploymentId)?.options.priority === 'On'
        ? 0
        : 1;
    const queued = this.state.tasks
      .filter(
        (t) =>
          t.state === 'Queued' &&
          t.pausedOn === undefined &&
          (t.queueTime === undefined || t.queueTime <= at),
      )
      .sort((a, b) => priority(a) - priority(b) || queueOrder(a) - queueOrder(b));
    let running = this.state.tasks.filter(
      (t) => t.state === 'Executing' || t.state === 'Cancelling',
    ).length;
    for (const task of queued) {
      if (this.taskCap !== undefined && running >= this.taskCap) break;
      if (busy.has(task.concurrencyTag)) continue;
      running += 1;
      busy.add(task.concurrencyTag);
      if (task.startTime === undefined) this.start(task, at);
      else {
        task.state = 'Executing';
        this.beginStep(task, task.currentStep + 1, at);
      }
    }
  }

  private start(task: TaskRecord, at: number): void {
    // Octopus: a deployment queued before a freeze that starts executing during it fails.
    const frozen = task.deploymentId
      ? activeFreeze(this.state, task.projectId, task.environmentId, task.tenantId, at)
      : undefined;
    if (frozen) {
      task.startTime = at;
      this.finish(
        task,
        'Failed',
        at,
        `The deployment could not start: deployment freeze '${frozen.freeze.name}' (${frozen.freeze.id}) is in force until ${isoTime(frozen.end)}.`,
      );
      return;
    }
    task.state = 'Executing';
    task.startTime = at;
    task.lastUpdated = at;
    const deployment = this.deploymentOf(task);
    if (deployment)
      appendDeploymentEvent(this.state, 'DeploymentStarted', deployment, at, systemActor);
    this.beginStep(task, 0, at);
  }

  private beginStep(task: TaskRecord, index: number, at: number): void {
    const step = task.steps[index];
    if (!step) return;
    task.currentStep = index;
    step.status = 'Running';
    step.started = at;
    task.lastUpdated = at;
    if (task.manualInterventionAtStep === index + 1) {
      step.logs.push({
        category: 'Wait',
        occurredAt: at,
        messageText: `Waiting for manual intervention: ${stepTitle(step)}`,
      });
      // Paused on a manual intervention: the task reads Queued and frees its slot (see startEligible).
      task.state = 'Queued';
      task.stepEndsAt = undefined;
      this.raiseInterruption(task, 'ManualIntervention', index, at);
      return;
    }
    step.logs.push({
      category: 'Info',
      occurredAt: at,
      messageText: `Running "${stepTitle(step)}" on ${workerName}`,
    });
    task.stepEndsAt = at + this.stepDuration(task.projectId);
  }

  private raiseInterruption(
    task: TaskRecord,
    type: InterruptionType,
    stepIndex: number,
    at: number,
  ): void {
    const step = task.steps[stepIndex];
    const deployment = this.deploymentOf(task);
    const id = nextId(this.state, 'Interruptions');
    const title =
      type === 'ManualIntervention'
        ? step
          ? stepTitle(step)
          : 'Manual intervention'
        : `${task.description} requires failure guidance`;
    const record: InterruptionRecord = {
      id,
      type,
      title,
      instructions:
        type === 'ManualIntervention'
          ? `Approve "${title}" to let the deployment go on.`
          : `'${step ? stepTitle(step) : 'A step'} (type Run a Script) on ${workerName}' in the current task failed. What would you like to do?`,
      taskId: task.id,
      relatedDocumentIds: [
        ...(type === 'GuidedFailure' ? [task.id] : []),
        ...(deployment ? [deployment.id] : []),
        ...(type === 'ManualIntervention' ? [task.id] : []),
        task.projectId,
        task.environmentId,
        ...(task.tenantId ? [task.tenantId] : []),
      ],
      correlationId: `${task.id}_${(idNumber(id) * 7919).toString(36).toUpperCase()}/${stepIndex + 1}`,
      created: at,
      isPending: true,
      responsibleUserId: null,
      values:
        type === 'ManualIntervention'
          ? { Instructions: null, Notes: null, Result: null }
          : { Instructions: null, Notes: null, Guidance: null },
      stepIndex,
      lastModified: at,
      lastModifiedBy: null,
    };
    this.state.interruptions.push(record);
    task.pausedOn = id;
    task.stepEndsAt = undefined;
    task.lastUpdated = at;
    if (deployment)
      appendDeploymentEvent(
        this.state,
        type === 'ManualIntervention'
          ? 'ManualInterventionInterruptionRaised'
          : 'GuidedFailureInterruptionRaised',
        deployment,
        at,
        systemActor,
      );
  }

  /** Takes responsibility for an interruption (PUT .../responsible). */
  takeResponsibility(id: string, actor: Actor): InterruptionRecord | undefined {
    this.catchUp();
    const interruption = this.state.interruptions.find((i) => i.id === id);
    if (!interruption) return undefined;
    if (interruption.isPending) {
      interruption.responsibleUserId = actor.userId;
      interruption.lastModified = this.clock.now();
      interruption.lastModifiedBy = actor.username;
    }
    this.onChange();
    return interruption;
  }

  /**
   * Answers a pending interruption (POST .../submit; the caller checked responsibility and the
   * answer's kind): Proceed resumes after the step, Abort and Fail fail the task, Retry runs the
   * failed step again, Ignore and Exclude go on with the next step.
   */
  submitInterruption(
    interruption: InterruptionRecord,
    answer: InterruptionAnswer,
    notes: string | null,
    actor: Actor,
  ): void {
    this.catchUp();
    const at = this.clock.now();
    const task = find.task(this.state, interruption.taskId);
    interruption.isPending = false;
    interruption.lastModified = at;
    interruption.lastModifiedBy = actor.username;
    interruption.values = {
      ...interruption.values,
      Notes: notes,
      ...('result' in answer ? { Result: answer.result } : { Guidance: answer.guidance }),
    };
    if (!task || task.pausedOn !== interruption.id) {
      this.onChange();
      return;
    }
    task.pausedOn = undefined;
    task.lastUpdated = at;
    const index = interruption.stepIndex;
    const step = task.steps[index];
    const word = 'result' in answer ? answer.result : answer.guidance;
    step?.logs.push({
      category: 'Info',
      occurredAt: at,
      messageText: `${actor.username} answered ${word}${notes ? `: ${notes}` : ''}`,
    });
    const deployment = this.deploymentOf(task);
    const resumed = (): void => {
      if (deployment) appendDeploymentEvent(this.state, 'DeploymentResumed', deployment, at, actor);
    };
    if (word === 'Abort' || word === 'Fail') {
      if (step) {
        step.status = 'Failed';
        step.ended = at;
      }
      this.finish(
        task,
        'Failed',
        at,
        word === 'Abort'
          ? `The deployment was aborted at Step ${index + 1}: ${step ? stepTitle(step) : ''} (manual intervention answered Abort)`
          : `The deployment failed at Step ${index + 1}: ${step ? stepTitle(step) : ''}`,
      );
    } else if (word === 'Retry') {
      resumed();
      task.failAtStep = undefined;
      if (step) step.logs.push({ category: 'Info', occurredAt: at, messageText: 'Retrying' });
      task.stepEndsAt = at + this.stepDuration(task.projectId);
    } else {
      resumed();
      if (step) {
        step.status = word === 'Proceed' ? 'Success' : 'Failed';
        step.ended = at;
      }
      if (word !== 'Proceed') task.failAtStep = undefined;
      const last = index + 1 >= task.steps.length;
      if (task.state === 'Queued') {
        // Paused on a manual intervention: back in the queue until its slot is free (startEligible).
        if (last) this.finish(task, 'Success', at, '');
      } else if (last) this.finish(task, 'Success', at, '');
      else this.beginStep(task, index + 1, at);
    }
    this.startEligible(at);
    this.onChange();
  }

  private endStep(task: TaskRecord, at: number): void {
    const index = task.currentStep;
    const step = task.steps[index];
    if (!step) return;
    step.ended = at;
    if (task.failAtStep === index + 1) {
      const message = task.failMessage ?? `The step failed: ${stepTitle(step)} exited with code 1.`;
      step.logs.push({ category: 'Error', occurredAt: at, messageText: message });
      if (task.guidedFailure) {
        // Guided failure: the task stays Executing and waits for Fail / Retry / Ignore / Exclude.
        step.ended = undefined;
        this.raiseInterruption(task, 'GuidedFailure', index, at);
        return;
      }
      step.status = 'Failed';
      this.finish(
        task,
        'Failed',
        at,
        `The deployment failed at Step ${index + 1}: ${stepTitle(step)}`,
      );
      return;
    }
    step.status = 'Success';
    step.logs.push({
      category: 'Info',
      occurredAt: at,
      messageText: `${stepTitle(step)} completed successfully`,
    });
    if (index + 1 < task.steps.length) this.beginStep(task, index + 1, at);
    else this.finish(task, 'Success', at, '');
  }

  private finish(
    task: TaskRecord,
    state: 'Success' | 'Failed' | 'Canceled' | 'TimedOut',
    at: number,
    error: string,
    actor: Actor = systemActor,
  ): void {
    task.state = state;
    task.pausedOn = undefined;
    for (const interruption of pendingInterruptionsOf(this.state, task.id)) {
      interruption.isPending = false;
      interruption.lastModified = at;
    }
    task.completedTime = at;
    task.lastUpdated = at;
    task.errorMessage = error;
    task.stepEndsAt = undefined;
    task.cancelAt = undefined;
    const started = task.startTime !== undefined;
    for (const step of task.steps) {
      if (step.status === 'Running') {
        step.status = state === 'Canceled' ? 'Canceled' : 'Failed';
        step.ended = at;
      } else if (step.status === 'Pending' && started) step.status = 'Skipped';
    }
    const deployment = this.deploymentOf(task);
    if (!deployment) return;
    if (state === 'Success')
      appendDeploymentEvent(this.state, 'DeploymentSucceeded', deployment, at, systemActor);
    else if (state === 'Failed')
      appendDeploymentEvent(this.state, 'DeploymentFailed', deployment, at, systemActor);
    else if (state === 'Canceled')
      appendDeploymentEvent(this.state, 'TaskCanceled', deployment, at, task.canceledBy ?? actor);
    if (state === 'Success') this.cancelSupersededRunning(task, deployment, at);
  }

  /**
   * Octopus 2025.2+ "Cancel queued tasks": a new task that runs the whole process cancels the older
   * queued ones of its project/environment/tenant, from the back of the queue, stopping at the first
   * that does not run the whole process; the new task takes the earliest cancelled one's place.
   * The cancellation is the system's (its TaskCanceled audit event is by users-system).
   */
  private cancelSupersededQueued(task: TaskRecord, deployment: DeploymentRecord, at: number): void {
    const project = find.project(this.state, task.projectId);
    if (!project?.cancelQueuedTasks || !runsWholeProcess(deployment)) return;
    const older = this.sameTargetTasks(task)
      .filter(
        (t) =>
          t.state === 'Queued' &&
          t.startTime === undefined &&
          (t.queueTime === undefined || t.queueTime <= at),
      )
      .sort((a, b) => queueOrder(b) - queueOrder(a));
    let place: number | undefined;
    for (const t of older) {
      const d = this.deploymentOf(t);
      if (!d || !runsWholeProcess(d)) break;
      place = queueOrder(t);
      this.finish(t, 'Canceled', at, 'The task was canceled.', systemActor);
    }
    if (place !== undefined) task.queueOrder = place;
  }

  /** "Cancel running tasks": a successful whole-process task cancels older paused ones of its target. */
  private cancelSupersededRunning(
    task: TaskRecord,
    deployment: DeploymentRecord,
    at: number,
  ): void {
    const project = find.project(this.state, task.projectId);
    if (!project?.cancelRunningTasks || !runsWholeProcess(deployment)) return;
    for (const t of this.sameTargetTasks(task)) {
      const d = this.deploymentOf(t);
      if (
        t.startTime === undefined ||
        t.pausedOn === undefined ||
        queueOrder(t) > queueOrder(task) ||
        !d ||
        !runsWholeProcess(d)
      )
        continue;
      t.canceledBy = systemActor;
      this.beginCancel(t, at);
    }
  }

  private sameTargetTasks(task: TaskRecord): TaskRecord[] {
    return this.state.tasks.filter(
      (t) =>
        t.id !== task.id &&
        t.name === 'Deploy' &&
        t.projectId === task.projectId &&
        t.environmentId === task.environmentId &&
        t.tenantId === task.tenantId &&
        activeTaskStates.includes(t.state),
    );
  }

  /** A started task (running or paused) goes Cancelling, then Canceled shortly after. */
  private beginCancel(task: TaskRecord, now: number): void {
    task.state = 'Cancelling';
    task.lastUpdated = now;
    task.pausedOn = undefined;
    task.cancelAt =
      now +
      (task.stepEndsAt === undefined
        ? cancelDelayMs
        : Math.min(cancelDelayMs, Math.max(0, task.stepEndsAt - now)));
    task.stepEndsAt = undefined;
  }

  private deploymentOf(task: TaskRecord): DeploymentRecord | undefined {
    return task.deploymentId ? find.deployment(this.state, task.deploymentId) : undefined;
  }

  /** Validates and queues a deployment as POST /deployments does; throws SimValidationError for a 400. */
  createDeployment(request: DeploymentRequest, actor: Actor, at?: number): DeploymentRecord {
    this.catchUp();
    const state = this.state;
    const problems: string[] = [];
    const release = request.releaseId ? find.release(state, request.releaseId) : undefined;
    const environment = state.environments.find((e) => e.id === request.environmentId);
    if (!request.releaseId) problems.push('ReleaseId is required.');
    else if (!release) problems.push(`Release ${request.releaseId} was not found.`);
    if (!request.environmentId) problems.push('EnvironmentId is required.');
    else if (!environment) problems.push(`Environment ${request.environmentId} was not found.`);
    if (!release || !environment) throw new SimValidationError(problems);
    const project = find.project(state, release.projectId);
    if (!project) throw new SimValidationError([`Project ${release.projectId} was not found.`]);
    if (request.projectId && request.projectId !== project.id)
      problems.push(
        `ProjectId ${request.projectId} does not match the release's project ${project.id}.`,
      );
    if (request.channelId && request.channelId !== release.channelId)
      problems.push(
        `ChannelId ${request.channelId} does not match the release's channel ${release.channelId}.`,
      );
    const tenant = request.tenantId ? find.tenant(state, request.tenantId) : undefined;
    if (request.tenantId && (!tenant || tenant.id !== request.tenantId))
      problems.push(`Tenant ${request.tenantId} was not found.`);
    if (project.tenantedDeploymentMode === 'Tenanted' && !request.tenantId)
      problems.push(
        `Project ${project.name} is Tenanted: a TenantId is required (one deployment per tenant).`,
      );
    if (project.tenantedDeploymentMode === 'Untenanted' && request.tenantId)
      problems.push(`Project ${project.name} is Untenanted: it cannot be deployed for a tenant.`);
    if (tenant && !(tenant.projectEnvironments[project.id] ?? []).includes(environment.id))
      problems.push(
        `Tenant ${tenant.name} is not connected to ${project.name} in ${environment.name}.`,
      );
    if (
      problems.length === 0 &&
      !promotableEnvironments(state, release, tenant?.id ?? null).includes(environment.id)
    )
      problems.push(
        `Release ${release.version} of ${project.name} cannot be deployed to ${environment.name}: its lifecycle requires earlier phases to be deployed successfully first.`,
      );
    if (problems.length > 0) throw new SimValidationError(problems);
    const frozen = activeFreeze(
      state,
      project.id,
      environment.id,
      tenant?.id ?? null,
      at ?? this.clock.now(),
    );
    if (frozen)
      throw new SimValidationError([
        `${project.name} cannot be deployed to ${environment.name}${tenant ? ` for ${tenant.name}` : ''}: deployment freeze '${frozen.freeze.name}' (${frozen.freeze.id}) is in force until ${isoTime(frozen.end)}. Wait for it to end, or override it (DeploymentFreezeAdminister permission).`,
      ]);

    const now = at ?? this.clock.now();
    const deploymentId = nextId(state, 'Deployments');
    const taskId = nextId(state, 'ServerTasks');
    const name = `Deploy to ${environment.name}${tenant ? ` for ${tenant.name}` : ''}`;
    const deployment: DeploymentRecord = {
      id: deploymentId,
      name,
      projectId: project.id,
      releaseId: release.id,
      channelId: release.channelId,
      environmentId: environment.id,
      tenantId: tenant?.id ?? null,
      taskId,
      created: now,
      queueTime: request.queueTime,
      queueTimeExpiry: request.queueTimeExpiry,
      comments: request.comments,
      deployedBy: actor.username,
      deployedById: actor.userId === systemActor.userId ? null : actor.userId,
      options: request.options,
    };
    const script = this.takeScript(project.id, environment.id, tenant?.id ?? null);
    const steps = project.steps.filter(
      (_, i) => !request.options.skipActions.includes(`step-${i + 1}`),
    );
    const task = newTask({
      id: taskId,
      name: 'Deploy',
      description: `Deploy ${project.name} release ${release.version} to ${environment.name}${tenant ? ` for ${tenant.name}` : ''}`,
      projectId: project.id,
      environmentId: environment.id,
      tenantId: tenant?.id ?? null,
      deploymentId,
      runbookRunId: undefined,
      queued: now,
      queueTime: request.queueTime,
      queueTimeExpiry: request.queueTimeExpiry,
      steps,
      concurrencyTag: concurrencyTag(
        project.concurrencyTag,
        project.id,
        environment.id,
        tenant?.id ?? null,
      ),
    });
    if (script?.outcome === 'fail') {
      task.failAtStep = Math.min(Math.max(script.failAtStep ?? steps.length, 1), steps.length);
      task.failMessage = script.errorMessage;
    }
    if (script?.outcome === 'manualIntervention')
      task.manualInterventionAtStep = Math.min(Math.max(script.atStep ?? 1, 1), steps.length);
    task.guidedFailure =
      request.options.useGuidedFailure ||
      environment.useGuidedFailure ||
      script?.guidedFailure === true;
    state.deployments.push(deployment);
    state.tasks.push(task);
    appendDeploymentEvent(state, 'DeploymentQueued', deployment, now, actor);
    this.cancelSupersededQueued(task, deployment, now);
    this.startEligible(now);
    this.onChange();
    return deployment;
  }

  createRunbookRun(
    request: {
      runbookId: string;
      environmentId: string;
      tenantId: string | null;
      comments: string | null;
      queueTime: number | undefined;
    },
    actor: Actor,
  ): RunbookRunRecord {
    this.catchUp();
    const state = this.state;
    const runbook = state.runbooks.find((r) => r.id === request.runbookId);
    const environment = state.environments.find((e) => e.id === request.environmentId);
    const problems: string[] = [];
    if (!runbook)
      problems.push(
        request.runbookId
          ? `Runbook ${request.runbookId} was not found.`
          : 'RunbookId is required.',
      );
    if (!environment)
      problems.push(
        request.environmentId
          ? `Environment ${request.environmentId} was not found.`
          : 'EnvironmentId is required.',
      );
    const tenant = request.tenantId ? find.tenant(state, request.tenantId) : undefined;
    if (request.tenantId && !tenant) problems.push(`Tenant ${request.tenantId} was not found.`);
    if (!runbook || !environment || problems.length > 0) throw new SimValidationError(problems);
    const now = this.clock.now();
    const id = nextId(state, 'RunbookRuns');
    const taskId = nextId(state, 'ServerTasks');
    const run: RunbookRunRecord = {
      id,
      name: `Run ${runbook.name} in ${environment.name}${tenant ? ` for ${tenant.name}` : ''}`,
      runbookId: runbook.id,
      projectId: runbook.projectId,
      environmentId: environment.id,
      tenantId: tenant?.id ?? null,
      taskId,
      created: now,
      queueTime: request.queueTime,
      comments: request.comments,
      deployedBy: actor.username,
    };
    const task = newTask({
      id: taskId,
      name: 'RunbookRun',
      description: `Run runbook ${runbook.name} in ${environment.name}${tenant ? ` for ${tenant.name}` : ''}`,
      projectId: runbook.projectId,
      environmentId: environment.id,
      tenantId: tenant?.id ?? null,
      deploymentId: undefined,
      runbookRunId: id,
      queued: now,
      queueTime: request.queueTime,
      queueTimeExpiry: undefined,
      steps: runbook.steps,
      concurrencyTag: `${tenant?.id ?? ''}/${runbook.id}/${environment.id}`,
    });
    state.runbookRuns.push(run);
    state.tasks.push(task);
    this.startEligible(now);
    this.onChange();
    return run;
  }

  /**
   * Queued (not started) -> Canceled at once; started (Executing, or paused on an interruption) ->
   * Cancelling -> Canceled shortly after. The TaskCanceled event is the actor's. Returns the task.
   */
  cancelTask(taskId: string, actor: Actor = systemActor): TaskRecord | undefined {
    this.catchUp();
    const task = find.task(this.state, taskId);
    if (!task) return undefined;
    const now = this.clock.now();
    if (task.state === 'Queued' && task.startTime === undefined) {
      this.finish(task, 'Canceled', now, 'The task was canceled.', actor);
      this.startEligible(now);
    } else if (task.state === 'Executing' || task.state === 'Queued') {
      task.canceledBy = actor;
      this.beginCancel(task, now);
    }
    this.onChange();
    return task;
  }

  private takeScript(
    projectId: string,
    environmentId: string,
    tenantId: string | null,
  ): OutcomeScript | undefined {
    const index = this.scripts.findIndex(
      (s) =>
        s.projectId === projectId &&
        s.environmentId === environmentId &&
        (s.tenantId === undefined || s.tenantId === tenantId),
    );
    const script = this.scripts[index];
    if (!script) return undefined;
    script.remaining -= 1;
    if (script.remaining <= 0) this.scripts.splice(index, 1);
    return script;
  }
}

/** A task's place in the queue: its id number unless it took a superseded task's place. */
function queueOrder(task: TaskRecord): number {
  return task.queueOrder ?? idNumber(task.id);
}

/** Runs the whole process on every target: no skipped steps, no machine filters (superseding rule). */
function runsWholeProcess(deployment: DeploymentRecord): boolean {
  const o = deployment.options;
  return (
    o.skipActions.length === 0 &&
    o.specificMachineIds.length === 0 &&
    o.excludedMachineIds.length === 0
  );
}

export function stepTitle(step: StepRecord): string {
  return step.name.replace(/^Step \d+: /, '');
}

/** Octopus.Task.ConcurrencyTag with the default "#{Octopus.Deployment.Tenant.Id}/#{Octopus.Project.Id}/#{Octopus.Environment.Id}". */
export function concurrencyTag(
  template: string | undefined,
  projectId: string,
  environmentId: string,
  tenantId: string | null,
): string {
  return (
    template ?? '#{Octopus.Deployment.Tenant.Id}/#{Octopus.Project.Id}/#{Octopus.Environment.Id}'
  )
    .replace(/#\{Octopus\.Deployment\.Tenant\.Id\}/g, tenantId ?? '')
    .replace(/#\{Octopus\.Project\.Id\}/g, projectId)
    .replace(/#\{Octopus\.Environment\.Id\}/g, environmentId);
}

/** What a new task is made from: its identity and queueing, and its process's step names. */
export type NewTask = Pick<
  TaskRecord,
  | 'id'
  | 'name'
  | 'description'
  | 'projectId'
  | 'environmentId'
  | 'tenantId'
  | 'deploymentId'
  | 'runbookRunId'
  | 'queued'
  | 'queueTime'
  | 'queueTimeExpiry'
  | 'concurrencyTag'
> & { steps: string[] };

export function newTask(fields: NewTask): TaskRecord {
  const { steps, ...rest } = fields;
  return {
    ...rest,
    state: 'Queued',
    startTime: undefined,
    completedTime: undefined,
    lastUpdated: fields.queued,
    errorMessage: '',
    steps: steps.map((name, i) => ({
      name: `Step ${i + 1}: ${name}`,
      status: 'Pending',
      started: undefined,
      ended: undefined,
      logs: [],
    })),
    failAtStep: undefined,
    failMessage: undefined,
    currentStep: -1,
    stepEndsAt: undefined,
    cancelAt: undefined,
  };
}
