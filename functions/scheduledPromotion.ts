import { app } from '@azure/functions';
import { timerJob } from '../shared/jobs/timerJob.js';

/**
 * Every minute (UTC, as Linux plans have no time zones): each promotion decides in code, with its
 * own cron and IANA zone, whether a slot is due, and claims each slot once.
 */
export const scheduledPromotion = timerJob('scheduledPromotion', async (runtime, log) => {
  // Loaded on first run, not at start (cold start).
  const { scheduledPromotionJob } = await import('../shared/promotion/schedule.js');
  return scheduledPromotionJob(runtime, log);
});

app.timer('scheduledPromotion', { schedule: '0 * * * * *', handler: scheduledPromotion });
