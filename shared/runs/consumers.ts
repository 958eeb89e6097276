// The runs engine plugged into the status poll (advance every active run) and webhook events (advance at once; start rules).
import type { EventConsumer } from '../events/consumers.js';
import { relatedId } from '../events/payload.js';
import type { StatusConsumer } from '../status/consumers.js';
import { advanceActiveRuns, advanceRunsWaitingOn } from './advance.js';
import { startRulesForEvent } from './rules.js';

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

export const runsEventConsumer: EventConsumer = {
  name: 'runs',
  async handle(runtime, event, log) {
    if (!runtime.octopus) return;
    const taskId = relatedId(event, 'ServerTasks');
    if (taskId) await advanceRunsWaitingOn(runtime, [taskId], log);
    await startRulesForEvent(runtime, event, log);
  },
};
