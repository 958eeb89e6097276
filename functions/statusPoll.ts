import { app } from '@azure/functions';
import { timerJob } from '../shared/jobs/timerJob.js';

/** Every minute by default: pending events, the dashboard once per space, set status, watches, consumers. */
export const statusPoll = timerJob('statusPoll', async (runtime, log) => {
  // Loaded on first run, not at start: registering the function needs none of it (cold start).
  const { runStatusPoll } = await import('../shared/app/statusPollJob.js');
  const result = await runStatusPoll(runtime, log);
  if (!result.ran)
    return { outcome: 'skipped', summary: `another poll holds the job lock (${result.heldBy})` };
  return {
    outcome: 'ok',
    summary: `${result.events.processed} event(s) processed, ${result.cells} cell(s) read with ${result.octopusCalls} Octopus call(s), ${result.rowsWritten} changed`,
  };
});

app.timer('statusPoll', { schedule: '%STATUS_POLL_SCHEDULE%', handler: statusPoll });
