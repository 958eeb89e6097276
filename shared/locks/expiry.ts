// How lease expiry is decided, and the margins. Storage time only: no instance's wall clock takes part.
//
// * A lease's base time T is the Timestamp of its holder row: the storage server's clock at the
//   grant or the last renewal (microsecond precision, set by the server on every write).
// * It is due to expire at T + ttl.
// * A contender judges "expired" against the Date header of its own read (D, storage time, 1 s
//   precision, rounded down, so D ≤ the true time of that read), and only when
//   D ≥ T + ttl + expiryGrace. The grace (1 s) covers skew between the storage front end that
//   stamps Date and the partition server that stamps Timestamp. The contender's grant is written
//   after that read, so every new grant starts after the old lease's end in storage time.
// * The holder never reads a clock of the storage service: it starts a monotonic countdown
//   (performance.now) *before* sending the write that set T, so its countdown starts no later than T,
//   and stops trusting the lease at start + ttl − holderMargin, holderMargin = max(2 s, ttl / 10).
//   The margin absorbs the rate drift of the local clock and timer lateness. Renewal comes every
//   ttl / 3, or every half of the trusted window (ttl − margin) when that is shorter (TTLs of 3–5 s),
//   so with storage answering the countdown is normally never reached. A TTL of 2 s or less leaves
//   no trusted window at all: job locks refuse it (see `minJobTtlSeconds`).
// * Clock skew between instances therefore cannot create a second live holder. A holder that is
//   *paused* past its countdown (GC, VM freeze) can still act late: that is what fences and
//   `assertHeld()` before irreversible steps are for.
// * Waiters: a place in the queue is kept while its row Timestamp + waiterTtl > D.

/** Added to T + ttl before a contender may take over a lease. */
export const expiryGraceMicros = 1_000_000;

/** How long before the storage-side expiry a holder stops trusting its lease. */
export function holderMarginMs(ttlSeconds: number): number {
  return Math.max(2000, ttlSeconds * 100);
}

/** The shortest lease a holder can use: anything shorter is untrusted from the moment it is granted. */
export const minJobTtlSeconds = 3;

/**
 * How often a holder renews: every ttl / 3, but at least twice per trusted window (ttl − margin), so
 * the next renewal is always sent before the countdown of the last one runs out.
 */
export function renewIntervalMs(ttlSeconds: number): number {
  const trustedMs = ttlSeconds * 1000 - holderMarginMs(ttlSeconds);
  return Math.max(250, Math.floor(Math.min((ttlSeconds * 1000) / 3, trustedMs / 2)));
}

/** Storage time as integer microseconds since the epoch (safe in a double until the year 2255). */
export type Micros = number;

/** Parse a storage Timestamp (`2026-11-21T22:49:11.9604033Z`, up to 7 fraction digits) to µs. */
export function parseStorageTime(iso: string): Micros {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(iso);
  if (!m) {
    const ms = Date.parse(iso);
    if (Number.isNaN(ms)) throw new Error(`Not a storage timestamp: ${iso}`);
    return ms * 1000;
  }
  const seconds = Date.parse(`${m[1]}Z`);
  const fraction = (m[2] ?? '').padEnd(6, '0').slice(0, 6);
  return seconds * 1000 + Number(fraction);
}

/** The Timestamp a write set, read from its weak etag `W/"datetime'2026-…Z'"`. */
export function timestampFromEtag(etag: string | undefined): Micros | undefined {
  if (!etag) return undefined;
  const m = /datetime'([^']+)'/.exec(etag);
  if (!m?.[1]) return undefined;
  try {
    return parseStorageTime(decodeURIComponent(m[1]));
  } catch {
    return undefined;
  }
}

/** µs to an ISO string with microseconds (`…:11.960403Z`). */
export function formatMicros(micros: Micros): string {
  const ms = Math.floor(micros / 1000);
  const base = new Date(ms).toISOString().slice(0, 19);
  const fraction = String(micros - Math.floor(micros / 1_000_000) * 1_000_000).padStart(6, '0');
  return `${base}.${fraction}Z`;
}

/** The instant a lease runs out in storage time. */
export function leaseEnd(baseMicros: Micros, ttlSeconds: number): Micros {
  return baseMicros + ttlSeconds * 1_000_000;
}

/** Whether a contender, whose read said `readDate`, may treat the lease as gone. */
export function leaseExpired(baseMicros: Micros, ttlSeconds: number, readDate: Micros): boolean {
  return readDate >= leaseEnd(baseMicros, ttlSeconds) + expiryGraceMicros;
}
