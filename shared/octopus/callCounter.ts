// Counts Octopus calls per endpoint template, so jobs can report them and tests can assert them.

export class OctopusCallCounter {
  private counts = new Map<string, number>();
  private count = 0;

  /** Every HTTP request sent to Octopus, retries included. */
  get total(): number {
    return this.count;
  }

  /** Records one request to an endpoint template such as `GET /api/{spaceId}/deployments`. */
  record(endpoint: string): void {
    this.count += 1;
    this.counts.set(endpoint, (this.counts.get(endpoint) ?? 0) + 1);
  }

  /** Requests per endpoint template, sorted by template. */
  byEndpoint(): Record<string, number> {
    return Object.fromEntries([...this.counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** Starts counting afresh; returns the total counted before. */
  reset(): number {
    const before = this.count;
    this.count = 0;
    this.counts = new Map();
    return before;
  }

  toJSON(): { total: number; byEndpoint: Record<string, number> } {
    return { total: this.total, byEndpoint: this.byEndpoint() };
  }
}
