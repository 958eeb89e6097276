// The timer-job wrapper: every run recorded (ok, skipped, failed), failures rethrown, secrets redacted.
import { InvocationContext, type Timer } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorResponse } from '../../shared/http/errors.js';
import { setSecretsForRedaction, toErrorResponse } from '../../shared/http/handler.js';
import { listJobRuns } from '../../shared/jobs/jobHistory.js';
import { timerJob } from '../../shared/jobs/timerJob.js';
import { createRuntime, setRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';

const timer: Timer = {
  isPastDue: true,
  schedule: { adjustForDST: true },
  scheduleStatus: {
    last: '2026-11-21T06:00:00Z',
    next: '2026-11-21T07:00:00Z',
    lastUpdated: '2026-11-21T06:00:00Z',
  },
};
const quiet = () => new InvocationContext({ logHandler: () => {} });
let runtime: Runtime;

beforeAll(async () => {
  runtime = await createRuntime({
    env: { AzureWebJobsStorage: azuriteConnectionString(), WEBHOOK_SECRET: 'hook-s3cret-value' },
    tablePrefix: uniqueTablePrefix(),
    config: undefined,
  });
  setRuntime(runtime);
});
afterAll(() => setRuntime(undefined));

describe('timerJob', () => {
  it('records the outcome and summary of each run, and the past-due flag', async () => {
    await timerJob('okJob', async () => ({ outcome: 'ok', summary: '3 things done' }))(
      timer,
      quiet(),
    );
    await timerJob('skippedJob', async () => ({ outcome: 'skipped', summary: 'lock held' }))(
      timer,
      quiet(),
    );
    const runs = await listJobRuns(runtime.tables);
    expect(runs.map((r) => [r.job, r.outcome, r.summary, r.isPastDue])).toEqual([
      ['okJob', 'ok', '3 things done', true],
      ['skippedJob', 'skipped', 'lock held', true],
    ]);
  });

  it('records a failure with secrets redacted, and rethrows it, even when what was thrown is falsy', async () => {
    const failing = timerJob('failingJob', async () => {
      throw new Error('Octopus said no to hook-s3cret-value');
    });
    await expect(failing(timer, quiet())).rejects.toThrow('Octopus said no to ***');
    const throwsNothing = timerJob('falsyJob', async () => {
      throw undefined;
    });
    await expect(throwsNothing(timer, quiet())).rejects.toThrow();
    const runs = Object.fromEntries((await listJobRuns(runtime.tables)).map((r) => [r.job, r]));
    expect(runs.failingJob).toMatchObject({ outcome: 'failed', summary: 'Octopus said no to ***' });
    expect(runs.falsyJob?.outcome).toBe('failed');
  });
});

describe('error responses', () => {
  it('redact secrets from a mapped error before answering, not only before logging', () => {
    setSecretsForRedaction(['hook-s3cret-value']);
    const mappable = {
      toHttp: () => ({
        status: 502,
        code: 'upstream',
        message: 'upstream echoed hook-s3cret-value',
      }),
    };
    const answer = toErrorResponse(mappable, quiet());
    expect(answer).toEqual(errorResponse(502, 'upstream', 'upstream echoed ***'));
  });
});
