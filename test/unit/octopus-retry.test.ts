import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  isRetryableStatus,
  parseRetryAfter,
  retryDelay,
} from '../../shared/octopus/retry.js';

describe('parseRetryAfter', () => {
  const now = new Date('2026-08-05T09:00:00Z');

  it('reads delta seconds', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
  });

  it('reads an HTTP date relative to now, never negative', () => {
    expect(parseRetryAfter('Wed, 05 Aug 2026 09:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Wed, 05 Aug 2026 08:59:00 GMT', now)).toBe(0);
  });

  it('ignores absent or unreadable values', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});

describe('backoff', () => {
  it('uses full jitter under an exponentially growing ceiling', () => {
    const options = { baseMs: 100, maxMs: 1000 };
    expect(backoffDelay(0, { ...options, random: () => 0.999 })).toBe(99);
    expect(backoffDelay(3, { ...options, random: () => 0.5 })).toBe(400);
    expect(backoffDelay(10, { ...options, random: () => 0.5 })).toBe(500);
    expect(backoffDelay(2, { ...options, random: () => 0 })).toBe(0);
  });

  it("prefers the server's Retry-After", () => {
    expect(retryDelay(0, 2000, { baseMs: 100, maxMs: 1000, random: () => 0.5 })).toBe(2000);
    expect(retryDelay(1, undefined, { baseMs: 100, maxMs: 1000, random: () => 0.5 })).toBe(100);
  });

  it('retries timeouts, rate limits and server errors, not client errors', () => {
    expect([408, 429, 500, 502, 503, 504].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 409, 501].some(isRetryableStatus)).toBe(false);
  });
});
