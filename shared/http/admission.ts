// Load shedding per route class, so the webhook's answer never waits behind lower-value work. A
// lock long-poll holds an invocation (and polls storage) for up to 200 s; past a few dozen of them
// on one instance, every other call queues behind their storage round trips and timers. So lock
// acquires are admitted up to a bound per instance and refused past it with 429 and Retry-After
// (the step templates and the shell client wait that long and ask again, keeping their request id,
// so nothing is lost). Renew and release are never shed: refusing them would cost a holder its lease.
import { HttpError } from './errors.js';

export class Admission {
  private inFlight = 0;
  /** Calls refused since the process started (health, benchmarks). */
  shed = 0;

  constructor(
    readonly what: string,
    readonly max: number,
    readonly retryAfterSeconds: number,
  ) {}

  get active(): number {
    return this.inFlight;
  }

  /** Run `work` if there is room, else throw 429 with Retry-After. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.inFlight >= this.max) {
      this.shed += 1;
      throw new HttpError(
        429,
        'overloaded',
        `This instance is serving ${this.inFlight} ${this.what} already (at most ${this.max}, so webhooks and other calls stay fast); retry after ${this.retryAfterSeconds} s with the same requestId.`,
        undefined,
        { 'Retry-After': String(this.retryAfterSeconds) },
      );
    }
    this.inFlight += 1;
    try {
      return await work();
    } finally {
      this.inFlight -= 1;
    }
  }
}

/** Lock acquires in flight per instance, long-polls included. */
export const lockAcquireAdmission = new Admission('lock acquires', 16, 2);
