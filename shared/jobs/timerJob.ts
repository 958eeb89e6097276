// Wrap a timer job: log start and end through the Functions context, record the outcome, never leak secrets.
import type { InvocationContext, Timer } from '@azure/functions';
import { redactSecrets } from '../config/settings.js';
import { contextLog, type Log } from '../runtime/log.js';
import { getRuntime, unresolvedNeeds, type Runtime } from '../runtime/runtime.js';
import { recordJobRun } from './jobHistory.js';

export interface JobResult {
  outcome: 'ok' | 'skipped';
  /** One line for the status page and logs, e.g. "3 sets polled, 1 email sent". */
  summary: string;
}

/**
 * Secrets a job cannot run without. While one of them is an unresolved Key Vault reference the job
 * skips with one log line naming it (recorded like any run) instead of failing every time.
 */
export const defaultJobNeeds: readonly string[] = ['OCTOPUS_API_KEY'];

/** Build a timer handler that runs `job` and records its last run. Errors are logged and rethrown. */
export function timerJob(
  name: string,
  job: (runtime: Runtime, log: Log, timer: Timer) => Promise<JobResult>,
  needs: readonly string[] = defaultJobNeeds,
): (timer: Timer, context: InvocationContext) => Promise<void> {
  return async (timer, context) => {
    const runtime = await getRuntime();
    const log = contextLog(context);
    const started = runtime.clock.now();
    let result: JobResult | undefined;
    let failed = false;
    let failure: unknown;
    const missing = unresolvedNeeds(runtime, needs);
    try {
      result =
        missing.length > 0
          ? {
              outcome: 'skipped',
              summary: `waiting for ${missing.join(', ')} (unresolved Key Vault reference; see /api/health)`,
            }
          : await job(runtime, log, timer);
    } catch (err) {
      failed = true; // even when what was thrown is falsy
      failure = err;
    }
    const finished = runtime.clock.now();
    const summary = failed
      ? redactSecrets(
          failure instanceof Error ? failure.message : String(failure),
          runtime.settings.secrets,
        )
      : (result?.summary ?? '');
    const outcome = failed ? 'failed' : (result?.outcome ?? 'ok');
    if (failed) log.error(`${name} failed: ${summary}`);
    else log.info(`${name}: ${outcome}${summary ? ` (${summary})` : ''}`);
    await recordJobRun(runtime.tables, {
      job: name,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs: finished.getTime() - started.getTime(),
      outcome,
      summary,
      instance: runtime.instanceId,
      isPastDue: timer.isPastDue,
    }).catch((err: unknown) =>
      log.warn(`${name}: could not record the run: ${(err as Error).message}`),
    );
    if (failed)
      throw failure instanceof Error ? new Error(summary) : new Error(summary || `${name} failed`);
  };
}
