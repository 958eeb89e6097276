// In-process wake-ups: a release here wakes, at once, the waiters of this process that can now be
// granted (the first in queue order, one per freed permit), instead of at their next poll. Waiters
// in other processes still find out by polling.

type Listener = () => void;

interface Entry {
  /** The waiter's row key (queue order); undefined sorts last (a caller not yet queued). */
  key: string | undefined;
  wake: Listener;
}

const byKey = (a: Entry, b: Entry): number =>
  a.key === b.key ? 0 : a.key === undefined ? 1 : b.key === undefined ? -1 : a.key < b.key ? -1 : 1;

export class LockWakeups {
  private readonly listeners = new Map<string, Set<Entry>>();

  /** Resolve on a notify that reaches this waiter (`key`: its place), or when the signal aborts. */
  next(
    partitionKey: string,
    signal?: AbortSignal,
    key?: string,
  ): { promise: Promise<void>; cancel(): void } {
    let set = this.listeners.get(partitionKey);
    if (!set) {
      set = new Set();
      this.listeners.set(partitionKey, set);
    }
    const listeners = set;
    const entry: Entry = { key, wake: () => undefined };
    const promise = new Promise<void>((resolve) => {
      entry.wake = () => {
        cancel();
        resolve();
      };
      listeners.add(entry);
      signal?.addEventListener('abort', entry.wake, { once: true });
    });
    const cancel = () => {
      listeners.delete(entry);
      signal?.removeEventListener('abort', entry.wake);
      // Only drop the entry if it is still this set: a newer one may hold other waiters.
      if (listeners.size === 0 && this.listeners.get(partitionKey) === listeners)
        this.listeners.delete(partitionKey);
    };
    return { promise, cancel };
  }

  /** Wake the first `count` waiters of this lock in queue order (all of them when omitted). */
  notify(partitionKey: string, count = Infinity): void {
    const set = this.listeners.get(partitionKey);
    if (!set || count <= 0) return;
    const entries = [...set].sort(byKey);
    for (const entry of entries.slice(0, count)) entry.wake();
  }

  /** How many waiters of this lock are listening (tests, benchmarks). */
  listening(partitionKey: string): number {
    return this.listeners.get(partitionKey)?.size ?? 0;
  }
}
