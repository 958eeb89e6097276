// The limits of a lock request, in a module of their own so the HTTP schemas can use them without
// loading the lock service (cold start).

/** Most permits a lock may have. */
export const maxPermits = 40;
/** Priority bands 0 (default) to 9 (served first); FIFO inside each band. */
export const maxPriority = 9;
/** Longest lease: a day. */
export const maxTtlSeconds = 86_400;
