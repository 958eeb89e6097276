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
import type { OctopusClient } from '../octopus/index.js';
import { withJobLock, type JobLease } from '../locks/jobLock.js';
import { silentLog, type Log } from '../runtime/log.js';
import { requireOctopus, type Runtime } from '../runtime/runtime.js';
import { decide, newRunState, watchedTaskIds } from './decide.js';
import { executeCommands, observeTasks, type ExecutorPorts } from './executor.js';
import { duplicateActionIds } from './plan.js';
import { RunStore, type RunSummary } from './store.js';
import {
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

/** The job name of a run's lock (the lock itself is `job/run/<id>`). */
export const runLockJob = (runId: string): string => `run/${runId}`;

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
}

export interface AdvanceResult {
  state: RunState | undefined;
  /** False when nothing was done: unknown run, finished run, or another instance holds the run. */
  advanced: boolean;
  heldBy?: string;
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
  const locked = await withJobLock(runtime, runLockJob(runId), { ttlSeconds }, (lease) =>
    advanceUnderLock(runtime, store, octopus, runId, lease, options),
  );
  if (!locked.ran) return { state: before?.state, advanced: false, heldBy: locked.heldBy };
  return locked.value;
}

async function advanceUnderLock(
  runtime: Runtime,
  store: RunStore,
  octopus: OctopusClient,
  runId: string,
  lease: JobLease,
  options: AdvanceOptions,
): Promise<AdvanceResult> {
  const log = options.log ?? silentLog;
  // Read again under the lock: the row may have moved on since the caller looked.
  let loaded = await store.get(runId);
  if (!loaded) return { state: undefined, advanced: false };
  let { state, etag } = loaded;
  if (!runHasWork(state)) return { state, advanced: false };
  if (writtenByNewer(state, lease)) return { state, advanced: false, heldBy: state.lease?.owner };

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
    if (commands.length === 0) return { state, advanced: true };
    observations = await executeCommands(state, commands, ports);
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
  const state = newRunState(options.runId ?? newRunId(now), plan, trigger, now);
  const store = new RunStore(runtime.tables);
  const created = await store.create(state);
  if (!created) {
    const existing = await store.get(state.id);
    if (!existing) throw new Error(`Run ${state.id} both exists and does not; try again.`);
    return { state: existing.state, created: false };
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
