// A run that waits for a time (a `wait` of minutes, a condition re-check, a retry) is advanced at that
// time by a timer in this process, not at the next status poll: a one-minute wait ends within seconds
// of its minute. The status poll remains the fallback (a stopped or scaled-in instance loses its timers).
import type { Log } from '../runtime/log.js';
import type { Runtime } from '../runtime/runtime.js';
import { approvalDueTimes } from './approval.js';
import { allActions } from './stepContext.js';
import { isFinishedAction, isTerminalRunStatus, type RunState } from './types.js';

/** Only times this close are scheduled here; later ones are the status poll's. */
export const maxScheduleMs = 15 * 60_000;

/** The earliest time the run needs an advance for a time of its own (not for an Octopus task), if any. */
export function nextDueAt(state: RunState): number | undefined {
  if (isTerminalRunStatus(state.status) || state.status === 'queued') return undefined;
  const times: (string | undefined)[] = [];
  for (const a of allActions(state)) {
    if (isFinishedAction(a.status) || a.status === 'pending') continue;
    if (a.status === 'waiting') times.push(a.waitUntil, a.nextCheckAt);
    times.push(a.retryAt, a.claim?.retryAt, a.deadline, ...approvalDueTimes(a));
  }
  times.push(state.previous.captured ? undefined : state.previous.retryAt, state.cancelRetryAt);
  const due = times.map((t) => (t ? Date.parse(t) : NaN)).filter((t) => !Number.isNaN(t));
  return due.length > 0 ? Math.min(...due) : undefined;
}

const timers = new WeakMap<Runtime, Map<string, { at: number; timer: NodeJS.Timeout }>>();

/**
 * Schedule the run's next advance at its next due time (replacing a later one). `advance` is the
 * engine's advanceRun, passed in to keep this module free of it.
 */
export function scheduleNextAdvance(
  runtime: Runtime,
  state: RunState,
  advance: (runtime: Runtime, runId: string) => Promise<unknown>,
  log: Log,
): void {
  const at = nextDueAt(state);
  let mine = timers.get(runtime);
  if (!mine) {
    mine = new Map();
    timers.set(runtime, mine);
  }
  const existing = mine.get(state.id);
  if (at === undefined) return;
  const now = runtime.clock.now().getTime();
  if (at - now > maxScheduleMs) return;
  if (existing && existing.at <= at) return;
  if (existing) clearTimeout(existing.timer);
  const runs = mine;
  // A little after the due time, so the run's own clock sees it as due.
  const timer = setTimeout(
    () => {
      runs.delete(state.id);
      void advance(runtime, state.id).catch((err: unknown) =>
        log.warn(
          `Run ${state.id}: the scheduled advance failed (${(err as Error).message}); the status poll carries on.`,
        ),
      );
    },
    Math.max(0, at - now) + 50,
  );
  timer.unref();
  runs.set(state.id, { at, timer });
}
