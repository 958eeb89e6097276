// When and how long to wait before trying an Octopus call again.

/** Statuses that mean "try again later": request timeout, rate limit, server and gateway trouble. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

/**
 * Parses `Retry-After` (delta seconds or an HTTP date) into milliseconds from `now`.
 * Returns undefined when absent or unreadable; a date in the past gives 0.
 */
export function parseRetryAfter(
  value: string | undefined | null,
  now: Date = new Date(),
): number | undefined {
  if (value === undefined || value === null) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const when = Date.parse(text);
  if (Number.isNaN(when)) return undefined;
  return Math.max(0, when - now.getTime());
}

export interface BackoffOptions {
  /** First delay ceiling; doubled per attempt. */
  baseMs: number;
  /** Largest delay ceiling. */
  maxMs: number;
  /** Source of randomness in [0, 1). */
  random?: () => number;
}

/**
 * Exponential backoff with full jitter: a uniform delay in [0, min(maxMs, baseMs * 2^attempt)].
 * `attempt` counts from 0 for the first retry. Full jitter spreads out callers that failed together.
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt));
  const random = options.random ?? Math.random;
  return Math.floor(random() * ceiling);
}

/**
 * The delay before the next attempt: the server's `Retry-After` when it gave one (it knows its
 * rate limit better than we do), otherwise backoff with jitter.
 */
export function retryDelay(
  attempt: number,
  retryAfterMs: number | undefined,
  options: BackoffOptions,
): number {
  if (retryAfterMs !== undefined) return retryAfterMs;
  return backoffDelay(attempt, options);
}
