import { app, type InvocationContext, type Timer } from '@azure/functions';
import { getRuntime } from '../shared/runtime/runtime.js';
import { runStatusPoll } from '../shared/status/statusPollJob.js';

/** Every minute by default: pending events, the dashboard once per space, set status, watches, consumers. */
export async function statusPoll(_timer: Timer, context: InvocationContext): Promise<void> {
  const result = await runStatusPoll(await getRuntime(), context);
  if (result.ran) {
    context.log(
      `Status poll: ${result.events.processed} event(s) processed, ${result.cells} cell(s) read with ${result.octopusCalls} Octopus call(s), ${result.rowsWritten} changed.`,
    );
  }
}

app.timer('statusPoll', { schedule: '%STATUS_POLL_SCHEDULE%', handler: statusPoll });
