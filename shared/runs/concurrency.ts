// Concurrency groups: every run takes a turn in its group, a lock of shared/locks (`run-group/<group>`,
// one permit, FIFO). The run holds the lock from its first stage to its end; others queue (their place
// kept in the lock's queue), are refused, or cancel the active ones, as the group's policy says.
//
// The lease belongs to the run, not to an instance: its id is stored in the run, renewed by whoever
// advances the run (every advance; the status poll advances every minute), released when the run
// ends. A queued run keeps its place by asking again on each advance. Both last `groupTtlSeconds`
// without an advance, so a run whose starter crashed before storing it frees the group by itself.
import type { ConcurrencyPolicy } from '../config/coordination/common.js';
import { CoordinatorError } from '../errors.js';
import { isLockError } from '../locks/errors.js';
import { LeaseLocks, type AcquireResult } from '../locks/leaseLock.js';
import { lockTables } from '../locks/runtimeLocks.js';
import type { Runtime } from '../runtime/runtime.js';
import { defaultGroupTemplate, renderGroup } from './groups.js';
import type { RunConcurrency, RunPlan, RunState } from './types.js';

/** How long a run's turn (or place in the queue) lasts without an advance renewing it. */
export const groupTtlSeconds = 900;

const services = new WeakMap<Runtime, LeaseLocks>();

/**
 * The lock service for run groups and deploy claims: the runtime's `locks` table, with waiters kept
 * as long as a lease (a queued run asks again at each advance, not every few seconds).
 */
export function runLocks(runtime: Runtime): LeaseLocks {
  let locks = services.get(runtime);
  if (!locks) {
    // Its places carry their 900 s TTL on their rows, so the HTTP API's locks (30 s places) judge
    // them by it too when both touch one lock.
    locks = new LeaseLocks({ ...lockTables(runtime), waiterTtlSeconds: groupTtlSeconds });
    services.set(runtime, locks);
  }
  return locks;
}

export function planConcurrency(plan: RunPlan): { group: string; policy: ConcurrencyPolicy } {
  return (
    plan.concurrency ?? {
      group: renderGroup(defaultGroupTemplate(plan), plan),
      policy: 'queue',
    }
  );
}

export const groupLockName = (group: string): string => `run-group/${group}`;
const holderName = (runId: string): string => `run ${runId}`;
/** The run named by a holder or waiter of a run lock (group or deploy claim). */
export const runIdOfHolder = (holder: string): string | undefined => /^run (\S+)/.exec(holder)?.[1];

/** A run refused by its group's `reject` policy. */
export class RunRejectedError extends CoordinatorError {
  constructor(
    readonly group: string,
    readonly activeRuns: string[],
  ) {
    super(
      'conflict',
      'run_rejected',
      `Concurrency group "${group}" already has an active run (${activeRuns.join(', ') || 'unknown'}) and its policy is "reject": no run was started. ` +
        'Wait for it to finish (GET /api/runs/{id}), cancel it, or set the playbook\'s "concurrency.policy" to "queue".',
      { group, activeRuns },
    );
    this.name = 'RunRejectedError';
  }
}

export function runIds(holders: readonly string[]): string[] {
  return holders.map(runIdOfHolder).filter((id): id is string => id !== undefined);
}

function acquireTurn(
  runtime: Runtime,
  lock: string,
  runId: string,
  queue: boolean,
): Promise<AcquireResult> {
  return runLocks(runtime).acquire(lock, {
    holder: holderName(runId),
    requestId: runId,
    ttlSeconds: groupTtlSeconds,
    queue,
  });
}

function applyResult(c: RunConcurrency, result: AcquireResult): RunConcurrency {
  if (result.granted)
    return { ...c, leaseId: result.leaseId, position: undefined, waitingFor: undefined };
  return { ...c, position: result.position ?? undefined, waitingFor: runIds(result.heldBy) };
}

/**
 * Before a new run is stored: take its turn or its place in the queue. With `reject` and an active
 * run, throws RunRejectedError (nothing is stored). Returns the run's concurrency record.
 */
export async function joinGroup(
  runtime: Runtime,
  runId: string,
  plan: RunPlan,
): Promise<RunConcurrency> {
  const { group, policy } = planConcurrency(plan);
  const lock = groupLockName(group);
  const result = await acquireTurn(runtime, lock, runId, policy !== 'reject');
  if (!result.granted && policy === 'reject')
    throw new RunRejectedError(group, runIds(result.heldBy));
  return applyResult({ group, policy, lock }, result);
}

/** A queued run asks for its turn again (and so keeps its place). */
export async function askForTurn(
  runtime: Runtime,
  c: RunConcurrency,
  runId: string,
): Promise<RunConcurrency> {
  return applyResult(c, await acquireTurn(runtime, c.lock, runId, true));
}

/**
 * Keep the turn of a running run. False when the lease was gone (the run went a whole lease without
 * an advance, and another run may have taken the group meanwhile).
 */
export async function renewTurn(runtime: Runtime, c: RunConcurrency): Promise<boolean> {
  if (!c.leaseId) return true;
  try {
    await runLocks(runtime).renew(c.lock, c.leaseId, groupTtlSeconds);
    return true;
  } catch (err) {
    if (isLockError(err, 'not_holder')) return false;
    throw err;
  }
}

/** Give the turn (or the place in the queue) back after the run ended; returns the runs to wake. */
export async function endTurn(
  runtime: Runtime,
  c: RunConcurrency,
  runId: string,
): Promise<string[]> {
  const locks = runLocks(runtime);
  if (c.leaseId) {
    try {
      await locks.release(c.lock, c.leaseId);
    } catch (err) {
      // Already gone (expired and taken over): nothing of ours to give back.
      if (!isLockError(err, 'not_holder')) throw err;
    }
  } else {
    await leaveOrGiveBack(locks, c.lock, {
      holder: holderName(runId),
      requestId: runId,
      ttlSeconds: groupTtlSeconds,
    });
  }
  return (await nextInLine(locks, c.lock)).slice(0, 1);
}

/**
 * Give up what a request may have on a lock when its lease was never recorded: its place in the
 * queue, or a grant made to it whose answer was lost (the instance that asked died before recording
 * it). The same request id names that grant again, so it is taken (not queued) and released at once
 * rather than left to lapse after its TTL and hold up everyone behind it.
 */
export async function leaveOrGiveBack(
  locks: LeaseLocks,
  lock: string,
  request: { holder: string; requestId: string; ttlSeconds: number },
): Promise<void> {
  const holds = await locks
    .leave(lock, { requestId: request.requestId })
    .then(() => false)
    .catch((err: unknown) => {
      if (!isLockError(err, 'holds_lease')) throw err;
      return true;
    });
  if (!holds) return;
  const again = await locks.acquire(lock, { ...request, queue: false });
  if (again.granted)
    await locks.release(lock, again.leaseId).catch((err: unknown) => {
      if (!isLockError(err, 'not_holder')) throw err;
    });
}

/** The first run waiting for a lock, to be advanced now rather than at the next poll. */
export async function nextInLine(locks: LeaseLocks, lock: string): Promise<string[]> {
  const view = await locks.inspect(lock);
  const waiters = [...(view?.waiters ?? [])].sort((a, b) => a.position - b.position);
  return runIds(waiters.map((w) => w.holder));
}

/** cancelInProgress: the runs to cancel for a new run: the group's active run and those queued before it. */
export async function runsToCancel(runtime: Runtime, state: RunState): Promise<string[]> {
  const c = state.concurrency;
  if (!c) return [];
  const view = await runLocks(runtime).inspect(c.lock);
  const mine = view?.waiters.find((w) => runIdOfHolder(w.holder) === state.id)?.position;
  const ahead = (view?.waiters ?? []).filter((w) => mine === undefined || w.position < mine);
  return runIds([
    ...(view?.holders ?? []).map((h) => h.holder),
    ...ahead.map((w) => w.holder),
  ]).filter((id) => id !== state.id);
}
