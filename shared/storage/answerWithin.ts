// A deadline on a Table Storage call, for callers that must answer in time even when storage hangs.

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
