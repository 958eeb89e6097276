// In-process wake-ups: a release or a grant here wakes the waiters of that lock in this process at
// once, instead of at their next poll. Waiters in other processes still find out by polling.

type Listener = () => void;

export class LockWakeups {
  private readonly listeners = new Map<string, Set<Listener>>();

  /** Resolve on the next notify for this lock, or when the signal aborts. */
  next(partitionKey: string, signal?: AbortSignal): { promise: Promise<void>; cancel(): void } {
    let set = this.listeners.get(partitionKey);
    if (!set) {
      set = new Set();
      this.listeners.set(partitionKey, set);
    }
    const listeners = set;
    let listener: Listener = () => undefined;
    const promise = new Promise<void>((resolve) => {
      listener = () => {
        cancel();
        resolve();
      };
      listeners.add(listener);
      signal?.addEventListener('abort', listener, { once: true });
    });
    const cancel = () => {
      listeners.delete(listener);
      signal?.removeEventListener('abort', listener);
      // Only drop the entry if it is still this set: a newer one may hold other waiters.
      if (listeners.size === 0 && this.listeners.get(partitionKey) === listeners)
        this.listeners.delete(partitionKey);
    };
    return { promise, cancel };
  }

  notify(partitionKey: string): void {
    const set = this.listeners.get(partitionKey);
    if (!set) return;
    for (const listener of [...set]) listener();
  }
}
