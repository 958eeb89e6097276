// The simulator's own clock: real time by default, and it can be paused, resumed and advanced.
export class SimClock {
  private offsetMs = 0;
  private pausedAt: number | undefined;

  now(): number {
    return this.pausedAt ?? Date.now() + this.offsetMs;
  }

  get paused(): boolean {
    return this.pausedAt !== undefined;
  }

  pause(): void {
    if (this.pausedAt === undefined) this.pausedAt = this.now();
  }

  resume(): void {
    if (this.pausedAt === undefined) return;
    this.offsetMs = this.pausedAt - Date.now();
    this.pausedAt = undefined;
  }

  advance(ms: number): void {
    if (this.pausedAt !== undefined) this.pausedAt += ms;
    else this.offsetMs += ms;
  }
}
