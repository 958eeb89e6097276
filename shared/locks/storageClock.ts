// Storage time, estimated in this process without reading any wall clock: the offset between the
// monotonic clock (performance.now) and the storage service's clock, narrowed by every answer.
//
// A write's etag carries the Timestamp T the server gave the row, at some instant between sending
// (local L1) and the answer (local L2), so offset ∈ [T − L2, T − L1]. A Date header D (whole
// seconds, rounded down) gives offset ∈ [D − L2, D + 1 s − L1]. The estimate is the middle of the
// intersection; its half-width is the uncertainty. Used only to order arrivals in a queue (never to
// judge expiry, which stays with storage times alone): the row's own Timestamp, known after the
// write, checks the estimate (see LeaseLocks.join).
import type { Micros } from './expiry.js';

/** How long an observation stays trusted (the monotonic clock drifts from storage time slowly). */
const keepMs = 60_000;

export class StorageClock {
  private low = -Infinity;
  private high = Infinity;
  private observedAt = -Infinity;
  private last = 0;

  /** The server stamped `storageMicros` at some instant between `sentAt` and `answeredAt` (performance.now()). */
  observeStamp(storageMicros: Micros, sentAt: number, answeredAt: number): void {
    this.narrow(storageMicros - answeredAt * 1000, storageMicros - sentAt * 1000, answeredAt);
  }

  /** A Date header (whole seconds, rounded down) answered between `sentAt` and `answeredAt`. */
  observeDate(dateMicros: Micros, sentAt: number, answeredAt: number): void {
    this.narrow(dateMicros - answeredAt * 1000, dateMicros + 1_000_000 - sentAt * 1000, answeredAt);
  }

  private narrow(low: number, high: number, at: number): void {
    if (at - this.observedAt > keepMs || Math.max(low, this.low) > Math.min(high, this.high)) {
      // Stale, or inconsistent with what we knew (drift, a pause): start again from this one.
      this.low = low;
      this.high = high;
    } else {
      this.low = Math.max(low, this.low);
      this.high = Math.min(high, this.high);
    }
    this.observedAt = at;
  }

  /** Half the width of what is known, in µs (Infinity before any observation or once stale). */
  uncertainty(now = performance.now()): number {
    if (now - this.observedAt > keepMs) return Infinity;
    return (this.high - this.low) / 2;
  }

  /** Storage time now, strictly increasing across calls in this process; undefined if unknown. */
  now(): Micros | undefined {
    const at = performance.now();
    if (!Number.isFinite(this.uncertainty(at))) return undefined;
    const estimate = Math.round(at * 1000 + (this.low + this.high) / 2);
    this.last = Math.max(this.last + 1, estimate);
    return this.last;
  }
}
