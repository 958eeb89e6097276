// Advancing runs: take the run's lock, observe, decide, record intents, execute, repeat. Also start and cancel.
//
// Who may advance a run is decided by the lock module (shared/locks), like every other coordinator
// job: one try-lock `job/run/<id>` per advancement, renewed in the background, expiry judged by
// storage time. Every run-row write stays ETag-checked, and the row carries the fence of the grant
// that wrote it (`lockFence`): an advancer that finds a newer fence there stops, so a holder that was
// paused past its lease never writes over its successor. Before each irreversible call (create a
// deployment, run a runbook, send mail, call a webhook) the executor asks `lease.assertHeld()`.
// Crash safety: intents name the lease id they were recorded under; a later grant has another id, so
// an intent left by a dead instance is reconciled by whoever takes the lock after it expires.
// Cost: one lock partition per run in the `locks` table (its `a-lock` row keeps the fence counter and
// is never deleted; history rows age out with the lock history), and about three more Table round
// trips per advancement (acquire, release, and one conditional touch per batch of irreversible calls).
import { randomBytes, createHash } from 'node:crypto';
import { CoordinatorError } from '../errors.js';
import type { OctopusClient } from '../octopus/client.js';
import { withJobLock, type JobLease } from '../locks/jobLock.js';
import { silentLog, type Log } from '../runtime/log.js';
import { requireOctopus, type Runtime } from '../runtime/runtime.js';
import {
  askForTurn,
  endTurn,
  groupTtlSeconds,
  joinGroup,
  renewTurn,
  runLocks,
  runsToCancel,
} from './concurrency.js';
import { approvalBaseUrl } from './approvalToken.js';
import { decide, newRunState, watchedTaskIds } from './decide.js';
import { freezeChecker } from '../freezes/check.js';
import { executeCommands, observeTasks, type ExecutorPorts } from './executor.js';
import { scheduleNextAdvance } from './nextAdvance.js';
import { allActions } from './stepContext.js';
import { duplicateActionIds } from './plan.js';
import { resolvePlanTrains, type TrainProblem } from './trainReleases.js';
import { RunStore, runLockJob, type RunSummary } from './store.js';
import {
  isFinishedAction,
  isTerminalRunStatus,
  runHasWork,
  type Command,
  type Observation,
  type RunPlan,
  type RunState,
  type RunTrigger,
} from './types.js';

/**
 * TTL of the run lock: how long a crashed advancer keeps others off the run. Short, because it is
 * renewed every ttl/3 while the advancer works (withJobLock); fences keep a late one harmless.
 */
export const defaultLeaseSeconds = 15;
/**
 * Shorter TTLs are raised to this: a lock holder stops trusting its lease 2 s before it ends
 * (shared/locks/expiry.ts), so a shorter lease would leave an advancer almost no time to act.
 */
export const minLeaseSeconds = 5;
const maxIterations = 25;

/** The job name of a run's lock (kept with the runs' store, which prunes its rows). */
export { runLockJob };

function requireOctopusClient(runtime: Runtime): OctopusClient {
  // The runtime's own check: an HTTP caller gets 503 octopus_not_configured, a timer a clear error.
  return requireOctopus(runtime);
}

export interface AdvanceOptions {
  log?: Log;
  /** Observations gathered elsewhere (a batched task poll); when given, the run's tasks are not read again. */
  observations?: Observation[];
  /** TTL of the run lock (default 15 s, at least 5 s). */
  leaseSeconds?: number;
  /**
   * The caller has just listed the run as active (the status poll): skip the read that keeps finished
   * runs from taking a lock; the run is read under the lock anyway.
   */
  listedActive?: boolean;
  /** Tests: called after an irreversible call returns, before its result is recorded. */
  afterIrreversible?: ExecutorPorts['afterIrreversible'];
  /** Tests: called just before the last freeze check ahead of a create (to set a freeze there). */
  beforeFreezeCheck?: ExecutorPorts['beforeFreezeCheck'];
}

export interface AdvanceResult {
  state: RunState | undefined;
  /** False when nothing was done: unknown run, finished run, or another instance holds the run. */
  advanced: boolean;
  heldBy?: string;
  /** Runs whose turn may have come because this one ended (advanced right after, not at the next poll). */
  wake?: string[];
}

/** A newer grant of the run lock has written the row: this advancer's lease is stale. */
const writtenByNewer = (state: RunState, lease: JobLease): boolean =>
  (state.lockFence ?? 0) > lease.fence;

/**
 * Move one run forward as far as it can go now. Safe to call from any number of instances at once:
 * the run's lock lets one act at a time, ETag-checked writes and fences keep a late one from
 * overwriting, and intents make a crash safe.
 */
export async function advanceRun(
  runtime: Runtime,
  runId: string,
  options: AdvanceOptions = {},
): Promise<AdvanceResult> {
  const store = new RunStore(runtime.tables);
  const octopus = requireOctopusClient(runtime);
  // A finished or unknown run takes no lock (and leaves no lock row behind).
  const before = options.listedActive ? undefined : await store.get(runId);
  if (!options.listedActive) {
    if (!before) return { state: undefined, advanced: false };
    if (!runHasWork(before.state)) return { state: before.state, advanced: false };
  }

  const ttlSeconds = Math.max(minLeaseSeconds, options.leaseSeconds ?? defaultLeaseSeconds);
  const claimWake: string[] = [];
  const locked = await withJobLock(runtime, runLockJob(runId), { ttlSeconds }, (lease) =>
    advanceUnderLock(runtime, store, octopus, runId, lease, options, claimWake),
  );
  if (!locked.ran) return { state: before?.state, advanced: false, heldBy: locked.heldBy };
  // A wait or a retry of its own is acted on at its time, not at the next status poll.
  if (locked.value.state)
    scheduleNextAdvance(
      runtime,
      locked.value.state,
      (r, id) => advanceRun(r, id, { log: options.log }),
      options.log ?? silentLog,
    );
  for (const next of new Set([...(locked.value.wake ?? []), ...claimWake])) {
    if (next === runId) continue;
    // The next run of the group starts now; if this fails, the status poll starts it.
    await advanceRun(runtime, next, { log: options.log }).catch((err: unknown) =>
      options.log?.warn(
        `Run ${next} could not start after ${runId} ended: ${(err as Error).message}`,
      ),
    );
  }
  return locked.value;
}

function noteOn(state: RunState, at: Date, message: string): void {
  state.history.push({ at: at.toISOString(), message });
  if (state.history.length > 100) state.history.splice(0, state.history.length - 100);
}

/**
 * A queued run asks for its turn (keeping its place); a running one renews it. Returns the state to
 * go on with, or `undefined` when the run is still queued (its position written if it changed).
 */
async function takeTurn(
  runtime: Runtime,
  store: RunStore,
  loaded: { state: RunState; etag: string },
  log: Log,
): Promise<{ state: RunState; etag: string } | undefined> {
  const { state } = loaded;
  const c = state.concurrency;
  if (!c || c.released || isTerminalRunStatus(state.status)) return loaded;
  if (state.status !== 'queued') {
    if (!(await renewTurn(runtime, c)))
      log.warn(
        `Run ${state.id}: its turn in group "${c.group}" lapsed (no advance for ${Math.round(groupTtlSeconds / 60)} minutes); it carries on.`,
      );
    return loaded;
  }
  if (state.cancelRequest) return loaded; // decide() turns it into "cancelled"
  const asked = await askForTurn(runtime, c, state.id);
  const now = runtime.clock.now();
  const next: RunState = structuredClone(state);
  next.concurrency = asked;
  if (asked.leaseId) {
    next.status = 'running';
    next.deadline = new Date(now.getTime() + state.plan.timeoutMinutes * 60_000).toISOString();
    noteOn(next, now, `Its turn in concurrency group "${c.group}" came; starting.`);
  } else if (
    asked.position === c.position &&
    JSON.stringify(asked.waitingFor) === JSON.stringify(c.waitingFor)
  ) {
    return undefined;
  }
  next.updatedAt = now.toISOString();
  const etag = await store.replace(next, loaded.etag);
  if (etag === undefined || !asked.leaseId) return undefined;
  return { state: next, etag };
}

/** Keep the deploy claims of the run's unfinished actions (their lease lasts groupTtlSeconds). */
async function renewClaims(runtime: Runtime, state: RunState, log: Log): Promise<void> {
  const held = allActions(state).filter(
    (a) => a.claim?.leaseId !== undefined && !isFinishedAction(a.status) && a.joined !== true,
  );
  await Promise.all(
    held.map(async (a) => {
      const claim = a.claim;
      if (!claim?.leaseId) return;
      await runLocks(runtime)
        .renew(claim.lock, claim.leaseId, groupTtlSeconds)
        .catch((err: unknown) =>
          log.warn(
            `Run ${state.id}: could not renew the claim of ${a.id}: ${(err as Error).message}`,
          ),
        );
    }),
  );
}

/** After the run ended: give its turn back once; returns the runs to wake. */
async function giveTurnBack(
  runtime: Runtime,
  store: RunStore,
  state: RunState,
  etag: string,
): Promise<{ state: RunState; wake: string[] }> {
  const c = state.concurrency;
  if (!c || c.released || !isTerminalRunStatus(state.status)) return { state, wake: [] };
  const wake = await endTurn(runtime, c, state.id);
  const next: RunState = { ...state, concurrency: { ...c, released: true, position: undefined } };
  const written = await store.replace(next, etag);
  return { state: written ? next : state, wake };
}

async function advanceUnderLock(
  runtime: Runtime,
  store: RunStore,
  octopus: OctopusClient,
  runId: string,
  lease: JobLease,
  options: AdvanceOptions,
  claimWake: string[],
): Promise<AdvanceResult> {
  const log = options.log ?? silentLog;
  // Read again under the lock: the row may have moved on since the caller looked.
  let loaded = await store.get(runId);
  if (!loaded) return { state: undefined, advanced: false };
  if (writtenByNewer(loaded.state, lease))
    return { state: loaded.state, advanced: false, heldBy: loaded.state.lease?.owner };
  if (!runHasWork(loaded.state)) {
    const ended = await giveTurnBack(runtime, store, loaded.state, loaded.etag);
    return { state: ended.state, advanced: false, wake: ended.wake };
  }
  const turn = await takeTurn(runtime, store, loaded, log);
  if (!turn) return { state: (await store.get(runId))?.state, advanced: false };
  let { state, etag } = turn;
  await renewClaims(runtime, state, log);

  let observations: Observation[] = options.observations ? [...options.observations] : [];
  if (!options.observations) {
    try {
      observations = await observeTasks(octopus, watchedTaskIds(state));
    } catch (err) {
      log.warn(
        `Run ${runId}: could not read its Octopus tasks (${(err as Error).message}); deciding without them.`,
      );
    }
  }

  const ports: ExecutorPorts = {
    octopus,
    mailer: runtime.mailer,
    config: runtime.config,
    log,
    env: process.env,
    mail: { timeZone: runtime.settings.report.timeZone, publicUrl: runtime.settings.publicUrl },
    mayAct: () =>
      lease.assertHeld().then(
        () => true,
        () => false,
      ),
    afterIrreversible: options.afterIrreversible,
    beforeFreezeCheck: options.beforeFreezeCheck,
    claims: runLocks(runtime),
    freezes: () =>
      freezeChecker({ tables: runtime.tables, octopus, now: () => runtime.clock.now() }),
    approval: { key: runtime.settings.approvalKey, baseUrl: approvalBaseUrl(runtime.settings) },
  };
  const mark = { id: lease.leaseId, owner: runtime.instanceId, fence: lease.fence };

  for (let iteration = 0; iteration < maxIterations; iteration++) {
    if (lease.signal.aborted) {
      log.warn(
        `Run ${runId}: this instance's lock on the run was lost; stopping here, the next advance carries on.`,
      );
      return { state, advanced: iteration > 0 };
    }
    const now = runtime.clock.now();
    const withLease: RunState = { ...state, lease: mark, lockFence: lease.fence };
    const decision = decide(withLease, observations, now);
    const next = decision.state;
    const commands: Command[] = decision.commands;
    if (commands.length === 0) next.lease = undefined;
    const newEtag = await store.replace(next, etag);
    if (newEtag === undefined) {
      // Someone else wrote the run: a cancel request, or a newer holder after our lock ran out.
      loaded = await store.get(runId);
      if (!loaded) return { state: undefined, advanced: iteration > 0 };
      if (writtenByNewer(loaded.state, lease)) {
        log.warn(
          `Run ${runId}: another instance (${loaded.state.lease?.owner ?? 'unknown'}) took the run over; leaving it to them.`,
        );
        return { state: loaded.state, advanced: iteration > 0, heldBy: loaded.state.lease?.owner };
      }
      // Apply the same facts to the newer state and decide again.
      ({ state, etag } = loaded);
      continue;
    }
    etag = newEtag;
    state = next;
    if (commands.length === 0) {
      const ended = await giveTurnBack(runtime, store, state, etag);
      return { state: ended.state, advanced: true, wake: ended.wake };
    }
    observations = await executeCommands(state, commands, ports);
    for (const o of observations) if (o.kind === 'claimReleased') claimWake.push(...o.wake);
  }
  // Out of iterations: clear the mark (the lock itself is released by withJobLock); the next poll carries on.
  const parked: RunState = { ...state, lease: undefined };
  const parkedEtag = await store.replace(parked, etag);
  return { state: parkedEtag ? parked : state, advanced: true };
}

/** A new run id: sortable by creation time, unique. */
export function newRunId(now: Date, seed?: string): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const suffix = seed
    ? createHash('sha256').update(seed).digest('hex').slice(0, 10)
    : randomBytes(5).toString('hex');
  return `run-${stamp}-${suffix}`;
}

export class InvalidPlanError extends CoordinatorError {
  override readonly name = 'InvalidPlanError';
  constructor(message: string) {
    super('invalid', 'invalid_plan', message);
  }
}

/** A deploy's release train could not be chosen: the run does not start. */
export class NoTrainError extends CoordinatorError {
  override readonly name = 'NoTrainError';
  constructor(readonly problems: TrainProblem[]) {
    super(
      'conflict',
      'no_train',
      `The run did not start, because a release train could not be chosen: ${problems.map((p) => `${p.actionId}: ${p.message}`).join('; ')}`,
      { problems },
    );
  }
}

export interface StartRunOptions {
  /** A fixed id makes starting idempotent (the same rule event, the same promotion slot). */
  runId?: string;
  log?: Log;
  /** Advance at once (default true). */
  advance?: boolean;
}

/**
 * Store a new run of the plan and advance it once. With a fixed `runId`, a second start of the same id
 * returns the existing run with `created: false`.
 */
export async function startRun(
  runtime: Runtime,
  plan: RunPlan,
  trigger: RunTrigger,
  options: StartRunOptions = {},
): Promise<{ state: RunState; created: boolean }> {
  const dupes = duplicateActionIds(plan);
  if (dupes.length > 0)
    throw new InvalidPlanError(
      `The plan uses these action ids more than once: ${dupes.join(', ')}. Give each action its own id.`,
    );
  const now = runtime.clock.now();
  const store = new RunStore(runtime.tables);
  const id = options.runId ?? newRunId(now);
  // A repeated trigger (fixed id) finds its run; it must not take a turn in the group again.
  if (options.runId) {
    const existing = await store.get(id);
    if (existing) return { state: existing.state, created: false };
  }
  // A deploy whose release comes from a release train gets that train's exact release now, once.
  const trains = await resolvePlanTrains(runtime, plan);
  if (trains.problems.length > 0) throw new NoTrainError(trains.problems);
  const state = newRunState(id, trains.plan, trigger, now);
  // Take the run's turn in its group, or its place in the queue, before it exists (reject: it never does).
  const concurrency = await joinGroup(runtime, id, plan);
  state.concurrency = concurrency;
  if (!concurrency.leaseId) {
    state.status = 'queued';
    state.history.push({
      at: now.toISOString(),
      message: `Queued in concurrency group "${concurrency.group}" (position ${concurrency.position ?? '?'}), waiting for ${concurrency.waitingFor?.join(', ') || 'the active run'}.`,
    });
  }
  const created = await store.create(state);
  if (!created) {
    const existing = await store.get(state.id);
    if (!existing) throw new Error(`Run ${state.id} both exists and does not; try again.`);
    return { state: existing.state, created: false };
  }
  if (concurrency.policy === 'cancelInProgress' && !concurrency.leaseId) {
    for (const other of await runsToCancel(runtime, state)) {
      await cancelRun(
        runtime,
        other,
        `run ${state.id}`,
        'a newer run of its concurrency group (cancelInProgress)',
        options.log,
      ).catch((err: unknown) =>
        options.log?.warn(`Run ${other} could not be cancelled: ${(err as Error).message}`),
      );
    }
  }
  if (options.advance === false) return { state, created: true };
  try {
    const result = await advanceRun(runtime, state.id, { log: options.log });
    return { state: result.state ?? state, created: true };
  } catch (err) {
    options.log?.warn(
      `Run ${state.id} was created but its first step failed (${(err as Error).message}); the status poll carries on.`,
    );
    return { state, created: true };
  }
}

export type CancelOutcome =
  | { kind: 'cancelling'; state: RunState }
  | { kind: 'notFound' }
  | { kind: 'finished'; state: RunState }
  | { kind: 'rollingBack'; state: RunState };

/** Ask a run to stop: it cancels the Octopus tasks it started, then runs onFailure if the playbook says so. */
export async function cancelRun(
  runtime: Runtime,
  runId: string,
  by?: string,
  reason?: string,
  log: Log = silentLog,
): Promise<CancelOutcome> {
  const store = new RunStore(runtime.tables);
  for (let attempt = 0; attempt < 10; attempt++) {
    const loaded = await store.get(runId);
    if (!loaded) return { kind: 'notFound' };
    const { state, etag } = loaded;
    if (isTerminalRunStatus(state.status)) return { kind: 'finished', state };
    if (state.status === 'rollingBack') return { kind: 'rollingBack', state };
    if (state.cancelRequest || state.cancel) return { kind: 'cancelling', state };
    const next: RunState = {
      ...state,
      cancelRequest: { requestedAt: runtime.clock.now().toISOString(), by, reason },
    };
    if ((await store.replace(next, etag)) === undefined) continue;
    try {
      const advanced = await advanceRun(runtime, runId, { log });
      if (!advanced.advanced && advanced.heldBy !== undefined)
        await cancelTasksNow(runtime, advanced.state ?? next, log);
      return { kind: 'cancelling', state: advanced.state ?? next };
    } catch (err) {
      log.warn(
        `Run ${runId}: cancel recorded, but acting on it failed (${(err as Error).message}); the status poll carries on.`,
      );
      return { kind: 'cancelling', state: next };
    }
  }
  throw new Error(`Run ${runId} changed too often to record the cancel request; try again.`);
}

/**
 * Another instance is advancing the run right now (it acts on the cancel when it next decides): cancel
 * the Octopus tasks the run started in this request anyway, so a cancel acts at once. Cancelling a
 * task twice is harmless; the run still records its own cancels.
 */
async function cancelTasksNow(runtime: Runtime, state: RunState, log: Log): Promise<void> {
  const octopus = requireOctopusClient(runtime);
  const tasks = allActions(state)
    .filter((a) => a.status === 'running' && a.taskId !== undefined && a.joined !== true)
    .map((a) => a.taskId ?? '');
  await Promise.all(
    tasks.map((taskId) =>
      octopus.tasks
        .cancel(taskId)
        .catch((err: unknown) =>
          log.warn(
            `Run ${state.id}: could not cancel task ${taskId} now (${(err as Error).message}); the run cancels it when it next advances.`,
          ),
        ),
    ),
  );
}

/**
 * Advance every run that still has work, reading all their Octopus tasks in one batched call
 * (the status poll calls this every minute; it is what carries runs on when a webhook is lost).
 */
export async function advanceActiveRuns(
  runtime: Runtime,
  log: Log = silentLog,
): Promise<{ advanced: string[]; failed: string[] }> {
  const store = new RunStore(runtime.tables);
  const active = await store.list({ active: true });
  if (active.length === 0) return { advanced: [], failed: [] };
  const octopus = requireOctopusClient(runtime);
  const taskIds = [...new Set(active.flatMap((r) => r.watchedTasks))];
  let taskObservations: Observation[] | undefined;
  try {
    taskObservations = await observeTasks(octopus, taskIds);
  } catch (err) {
    log.warn(
      `Could not read the Octopus tasks of ${active.length} runs (${(err as Error).message}); each run reads its own.`,
    );
  }
  const advanced: string[] = [];
  const failed: string[] = [];
  for (const run of active) {
    const mine = taskObservations?.filter(
      (o) => o.kind === 'task' && run.watchedTasks.includes(o.taskId),
    );
    try {
      const result = await advanceRun(runtime, run.id, {
        log,
        observations: mine,
        listedActive: true,
      });
      if (result.advanced) advanced.push(run.id);
    } catch (err) {
      failed.push(run.id);
      log.error(`Run ${run.id} could not advance: ${(err as Error).message}`);
    }
  }
  return { advanced, failed };
}

/** Advance the runs that wait on any of these Octopus tasks (a webhook event about their deployments). */
export async function advanceRunsWaitingOn(
  runtime: Runtime,
  taskIds: readonly string[],
  log: Log = silentLog,
  /** The active runs when the caller has read them already (once for a pass of many events). */
  listed?: readonly RunSummary[],
): Promise<string[]> {
  if (taskIds.length === 0) return [];
  const active = listed ?? (await new RunStore(runtime.tables).list({ active: true }));
  const concerned = active.filter((r) => r.watchedTasks.some((t) => taskIds.includes(t)));
  const advanced: string[] = [];
  for (const run of concerned) {
    try {
      const result = await advanceRun(runtime, run.id, { log });
      if (result.advanced) advanced.push(run.id);
      // A list kept for the rest of a pass shows what a fresh read would: the tasks it waits on now.
      if (listed && result.state)
        run.watchedTasks = runHasWork(result.state) ? watchedTaskIds(result.state) : [];
    } catch (err) {
      log.warn(
        `Run ${run.id} could not advance on the event: ${(err as Error).message}; the status poll carries on.`,
      );
    }
  }
  return advanced;
}
