// The runs engine plugged into the status poll (advance every active run) and webhook events (advance at once; start rules).
import type { EventConsumer, EventContext } from '../events/consumers.js';
import { relatedId } from '../events/payload.js';
import type { Runtime } from '../runtime/runtime.js';
import type { StatusConsumer } from '../status/consumers.js';
import { advanceActiveRuns, advanceRunsWaitingOn } from './advance.js';
import { startRulesForEvent } from './rules.js';
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

declare module '../events/consumers.js' {
  interface EventPassMemo {
    /**
     * The active runs, read once per pass by the first event that names a task (not once per event).
     * Kept as a fresh read would show them: a run advanced in the pass has its waited-on tasks
     * updated in place, and a run started in the pass drops the list, so the next event reads again.
     */
    activeRuns?: Promise<RunSummary[]>;
  }
}

/** The pass's list of active runs, read by the first event that needs it; a failed read is not kept. */
async function activeRunsOfPass(runtime: Runtime, context: EventContext): Promise<RunSummary[]> {
  const listing = (context.memo.activeRuns ??= new RunStore(runtime.tables).list({ active: true }));
  try {
    return await listing;
  } catch (err) {
    if (context.memo.activeRuns === listing) delete context.memo.activeRuns;
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
    if (started.length > 0) delete context.memo.activeRuns;
  },
};
