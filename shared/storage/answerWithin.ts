// Deadlines on storage calls, for callers that must answer (or go on) in time even when storage hangs.

/**
 * `work`'s result, or a rejection once `ms` pass without one. The call itself is not cancelled
 * (the SDK has no way to); the caller just stops waiting for it.
 */
export function storageAnswerWithin<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`Table Storage did not answer within ${ms} ms`)),
      ms,
    );
    work.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** Resolves when `work` settles or `ms` pass, whichever is first (`work` itself goes on). */
export function settledWithin(work: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    work.then(done, done);
  });
}
