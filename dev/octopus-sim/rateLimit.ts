// Octopus 2026.3's API rate limit: a token bucket per user (per IP when anonymous). Off by default,
// as on upgraded servers; POST /_sim/rate-limit turns it on. Every request costs one token.
import { z } from 'zod';
import { ControlError } from './control.js';

const rateLimitSchema = z.object({
  /** Tokens added per minute; null turns the limit off. */
  perMinute: z.number().int().min(1).max(1_000_000).nullable(),
  /** Bucket size (the burst allowed after a quiet spell). Default: perMinute. */
  burst: z.number().int().min(1).max(1_000_000).optional(),
});
export type RateLimitInput = z.input<typeof rateLimitSchema>;

export class RateLimiter {
  #perMinute: number | null = null;
  #burst = 0;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly now: () => number) {}

  configure(input: RateLimitInput | unknown): { perMinute: number | null; burst: number | null } {
    const parsed = rateLimitSchema.safeParse(input);
    if (!parsed.success)
      throw new ControlError(
        `rate-limit: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`,
      );
    this.#perMinute = parsed.data.perMinute;
    this.#burst = parsed.data.burst ?? parsed.data.perMinute ?? 0;
    this.#buckets.clear();
    return { perMinute: this.#perMinute, burst: this.#perMinute === null ? null : this.#burst };
  }

  describe(): string {
    return `${this.#perMinute ?? 'unlimited'} requests per minute (burst ${this.#burst})`;
  }

  /** Takes a token for `principal`: undefined when allowed, else the whole seconds until one is free. */
  take(principal: string): number | undefined {
    const rate = this.#perMinute;
    if (rate === null) return undefined;
    const now = this.now();
    const bucket = this.#buckets.get(principal) ?? { tokens: this.#burst, at: now };
    bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) * rate) / 60_000);
    bucket.at = now;
    this.#buckets.set(principal, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil(((1 - bucket.tokens) * 60) / rate));
  }
}
