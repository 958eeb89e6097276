// In-process wake-ups: a release here wakes, at once, the waiters of this process that can now be
// granted (the first in queue order, one per freed permit), instead of at their next poll. Waiters
// in other processes still find out by polling.
//
// It also knows which leases this process granted and has not seen end (`granted`, `ended`): while
// every live holder of a lock is one of them, its release here will wake the waiter that is first
// here, so the waiters here need not poll for it (they keep a slow backstop poll for what other
// processes do: a release of such a lease sent to another instance, a forced release, expiry).

type Listener = () => void;

interface Entry {
  /** The waiter's row key (queue order); undefined sorts last (a caller not yet queued). */
  key: string | undefined;
  wake: Listener;
  /** Within this many of the first listeners in queue order, the waiter is at the front here. */
  front: number;
  /** Called (once) when the waiter moves into the front here because a listener ahead left. */
  promote: Listener;
}

const maxFront = (set: Set<Entry>): number => {
  let most = 0;
  for (const e of set) most = Math.max(most, e.front);
  return most;
};

const byKey = (a: Entry, b: Entry): number =>
  a.key === b.key ? 0 : a.key === undefined ? 1 : b.key === undefined ? -1 : a.key < b.key ? -1 : 1;

export interface Subscription {
  /** Resolves on a notify that reaches this waiter, or when the signal aborts. */
  promise: Promise<void>;
  /** Resolves when a listener ahead leaves and this waiter is now within `front` of the front here. */
  promoted: Promise<void>;
  /** Whether this waiter is within `front` of the first listeners here, in queue order. */
  atFront(): boolean;
  /** The waiter's place, once known (a caller that has just joined subscribed without one). */
  setKey(key: string | undefined): void;
  cancel(): void;
}

export class LockWakeups {
  private readonly listeners = new Map<string, Set<Entry>>();
  /**
   * Leases granted in this process, by lock partition and holder row key: when they run out
   * unrenewed (performance.now ms) and the waiter row key (place) they were granted to.
   */
  private readonly held = new Map<string, Map<string, { end: number; place?: string }>>();
  private heldCount = 0;

  /** Resolve on a notify that reaches this waiter (`key`: its place), or when the signal aborts. */
  next(partitionKey: string, signal?: AbortSignal, key?: string, front = 1): Subscription {
    let set = this.listeners.get(partitionKey);
    if (!set) {
      set = new Set();
      this.listeners.set(partitionKey, set);
    }
    const listeners = set;
    const entry: Entry = { key, wake: () => undefined, front, promote: () => undefined };
    const promoted = new Promise<void>((resolve) => {
      entry.promote = () => {
        entry.promote = () => undefined;
        resolve();
      };
    });
    const promise = new Promise<void>((resolve) => {
      entry.wake = () => {
        cancel();
        resolve();
      };
      listeners.add(entry);
      signal?.addEventListener('abort', entry.wake, { once: true });
    });
    const cancel = () => {
      const wasFront = listeners.has(entry) && this.indexOf(listeners, entry) < maxFront(listeners);
      listeners.delete(entry);
      signal?.removeEventListener('abort', entry.wake);
      // A listener at the front left (granted, gave up): the ones now at the front are told.
      if (wasFront) {
        const sorted = [...listeners].sort(byKey);
        sorted.forEach((e, i) => {
          if (i < e.front) e.promote();
        });
      }
      // Only drop the entry if it is still this set: a newer one may hold other waiters.
      if (listeners.size === 0 && this.listeners.get(partitionKey) === listeners)
        this.listeners.delete(partitionKey);
    };
    return {
      promise,
      promoted,
      atFront: () => !listeners.has(entry) || this.indexOf(listeners, entry) < entry.front,
      setKey: (k) => {
        entry.key = k;
      },
      cancel,
    };
  }

  private indexOf(set: Set<Entry>, entry: Entry): number {
    let ahead = 0;
    for (const e of set) if (e !== entry && byKey(e, entry) < 0) ahead += 1;
    return ahead;
  }

  /**
   * Whether each of these waiter row keys belongs to a waiter listening here, or to one granted
   * here a moment ago (a read can still show its place while its grant lands).
   */
  listeningHere(partitionKey: string, keys: readonly string[]): boolean {
    const here = new Set<string | undefined>();
    for (const e of this.listeners.get(partitionKey) ?? []) here.add(e.key);
    for (const lease of this.held.get(partitionKey)?.values() ?? []) here.add(lease.place);
    return keys.every((k) => here.has(k));
  }

  /** A lease of this lock was granted in this process (`ttlSeconds`: until it runs out unrenewed). */
  granted(partitionKey: string, lease: string, ttlSeconds: number, place?: string): void {
    const now = performance.now();
    let held = this.held.get(partitionKey);
    if (!held) {
      if (this.heldCount > 10_000) {
        this.held.clear();
        this.heldCount = 0;
      }
      held = new Map();
      this.held.set(partitionKey, held);
    }
    for (const [key, { end }] of held)
      if (end <= now) {
        held.delete(key);
        this.heldCount -= 1;
      }
    if (!held.has(lease)) this.heldCount += 1;
    held.set(lease, { end: now + ttlSeconds * 1000, place });
  }

  /** A lease granted here was renewed here: it runs `ttlSeconds` from now. */
  renewed(partitionKey: string, lease: string, ttlSeconds: number): void {
    const held = this.held.get(partitionKey);
    const known = held?.get(lease);
    if (known) known.end = performance.now() + ttlSeconds * 1000;
  }

  /** A lease of this lock ended here (released, or its grant failed). */
  ended(partitionKey: string, lease: string): void {
    const held = this.held.get(partitionKey);
    if (!held?.delete(lease)) return;
    this.heldCount -= 1;
    if (held.size === 0) this.held.delete(partitionKey);
  }

  /**
   * Whether every one of these leases (holder row keys: a lock's live holders) was granted here,
   * has not ended here and has not run out by this process's clock: its release here wakes a waiter
   * here.
   */
  heldHere(partitionKey: string, leases: readonly string[]): boolean {
    const held = this.held.get(partitionKey);
    if (!held) return false;
    const now = performance.now();
    return leases.every((key) => (held.get(key)?.end ?? 0) > now);
  }

  /**
   * Leases of this lock ended (released, forced, reaped): no longer held here, whoever ended them,
   * and the first `count` waiters here are woken (one per freed permit unless given).
   */
  freed(partitionKey: string, leases: readonly string[], count = leases.length): void {
    for (const lease of leases) this.ended(partitionKey, lease);
    this.notify(partitionKey, count);
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
