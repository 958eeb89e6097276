// Creates something in Octopus without ever creating it twice: a failed create is retried only
// after a check shows the failed attempt did not take effect.
import type { OctopusContext } from './context.js';
import { OctopusError } from './errors.js';
import { gaveUp } from './http.js';

export interface CreateOnceSteps<T> {
  /** What is being created, for messages ("deployment of Releases-12 to Environments-3"). */
  what: string;
  /** One POST, never retried by the transport. */
  attempt: () => Promise<T>;
  /** Finds what an earlier attempt created, or undefined. Absent when there is no marker to check by. */
  find?: () => Promise<T | undefined>;
}

export async function createOnce<T>(ctx: OctopusContext, steps: CreateOnceSteps<T>): Promise<T> {
  const http = ctx.http;
  for (let attempt = 0; ; attempt++) {
    let failure: OctopusError;
    try {
      return await steps.attempt();
    } catch (error) {
      if (!(error instanceof OctopusError) || !error.retryable) throw error;
      failure = error;
    }
    if (!steps.find) {
      throw unconfirmed(
        failure,
        `Creating the ${steps.what} failed in a way that leaves unclear whether Octopus created it (${failure.message}) It was not retried: without a Comments marker there is no way to check. Look in Octopus before trying again.`,
      );
    }
    if (http.waitTooLong(failure.retryAfterMs)) throw failure;
    // Wait first. Without an answer (timeout, dropped connection) the first request may still be
    // running on the server: give it time to finish, so the check sees what it did.
    const unanswered = failure.code === 'Timeout' || failure.code === 'NetworkError';
    const backoff = http.retryDelay(attempt, failure.retryAfterMs);
    await http.sleep(unanswered ? Math.max(backoff, http.createSettleMs) : backoff);
    let existing: T | undefined;
    try {
      existing = await steps.find();
    } catch (checkError) {
      const why = checkError instanceof Error ? checkError.message : String(checkError);
      throw unconfirmed(
        failure,
        `Creating the ${steps.what} failed (${failure.message}) and checking whether it was created anyway failed too (${why}). It was not retried, to avoid creating it twice. Look in Octopus before trying again.`,
      );
    }
    if (existing !== undefined) {
      http.log(
        'info',
        `The ${steps.what} failed to answer (${failure.code}) but had been created; not repeating it.`,
      );
      return existing;
    }
    if (attempt >= http.maxRetries) throw gaveUp(failure, attempt + 1);
    http.log(
      'warn',
      `The ${steps.what} failed (${failure.status ?? failure.code}) and was not created; trying again.`,
    );
  }
}

function unconfirmed(failure: OctopusError, message: string): OctopusError {
  return new OctopusError({
    code: 'CreateUnconfirmed',
    status: failure.status,
    method: failure.method,
    path: failure.path,
    errorMessage: failure.errorMessage,
    errors: failure.errors,
    retryable: false,
    message,
  });
}
