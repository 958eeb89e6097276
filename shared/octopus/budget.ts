// The coordinator's own Octopus request budget: a token bucket every request passes, so a burst of
// webhooks or a large report never trips the server's rate limiter (Octopus 2026.3: per-user token
// bucket, policies of 200 or 600 requests a minute with bursts of 200 in the docs).

/**
 * Default requests per minute: under the smallest documented server policy (200/min), leaving room for
 * people and other tools that share the key's user. The bucket holds one minute's worth, so short bursts
 * (a report, a run starting) go at full speed and only sustained load is spread out.
 */
export const defaultMaxRequestsPerMinute = 180;

export class RequestBudget {
  #tokens: number;
  #at: number;
  #queue: Promise<void> = Promise.resolve();

  constructor(
    /** Requests per minute; 0 or Infinity = no budget. */
    readonly perMinute: number,
    private readonly sleep: (ms: number) => Promise<void>,
    private readonly now: () => number = Date.now,
    /** Bucket size; default one minute's worth. */
    readonly burst = perMinute,
  ) {
    this.#tokens = burst;
    this.#at = now();
  }

  get limited(): boolean {
    return Number.isFinite(this.perMinute) && this.perMinute > 0;
  }

  /** Resolves when a request may go; callers are served in order. Returns how long it waited (ms). */
  take(): Promise<number> {
    if (!this.limited) return Promise.resolve(0);
    const turn = this.#queue.then(() => this.#takeNow());
    this.#queue = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  async #takeNow(): Promise<number> {
    let waited = 0;
    for (;;) {
      const now = this.now();
      this.#tokens = Math.min(
        this.burst,
        this.#tokens + ((now - this.#at) * this.perMinute) / 60_000,
      );
      this.#at = now;
      if (this.#tokens >= 1) {
        this.#tokens -= 1;
        return waited;
      }
      const ms = Math.ceil(((1 - this.#tokens) * 60_000) / this.perMinute);
      waited += ms;
      await this.sleep(ms);
    }
  }
}
