// What people see of a lock: its holders, its queue in order with why each waits, and a summary of all locks.
import type { TableClient } from '@azure/data-tables';
import { encodeKey } from '../storage/keys.js';
import { lockState } from './acquireDecision.js';
import type { LockSnapshot } from './snapshot.js';
import { formatMicros, type Micros } from './expiry.js';
import type { HolderRow, WaiterRow } from './rows.js';
import {
  holderExpired,
  holderExpiresAt,
  readAllLockSnapshots,
  readLockSnapshot,
  waiterLive,
  type Stored,
} from './snapshot.js';

export interface HolderView {
  holder: string;
  fence: number;
  grantedAt: string;
  expiresAt: string;
  ttlSeconds: number;
  octopusTaskId?: string;
  /** Past its TTL and not yet taken over (a waiter's next request frees it). */
  expired: boolean;
}

export interface WaiterView {
  position: number;
  holder: string;
  priority: number;
  ticket: number;
  queuedAt: string;
  octopusTaskId?: string;
  why: string;
}

export interface LockView {
  name: string;
  permits: number;
  /** The fence of the latest grant. */
  lastFence: number;
  /** Storage time of the read. */
  readAt: string;
  holders: HolderView[];
  waiters: WaiterView[];
}

export interface LockSummary {
  name: string;
  permits: number;
  lastFence: number;
  holders: string[];
  waiters: number;
}

/** Task-bound holders that wait for each other: none of them can go on until one gives up. */
export interface Deadlock {
  /** The Octopus tasks in the cycle, each waiting for a lock the next one holds. */
  tasks: string[];
  /** The locks of the cycle: `waits[i]` is the lock `tasks[i]` waits for (held by `tasks[i+1]`). */
  waits: { task: string; waitsFor: string; heldBy: string; holder: string }[];
  message: string;
}

/** Holders, waiters in order (with why each waits), and fences of one lock; undefined if it never existed. */
export async function inspectLock(
  client: TableClient,
  name: string,
  waiterTtlSeconds: number,
): Promise<LockView | undefined> {
  const snapshot = await readLockSnapshot(client, encodeKey(name));
  if (!snapshot.lock && snapshot.holders.length === 0 && snapshot.waiters.length === 0)
    return undefined;
  const state = lockState(snapshot, {
    waiterTtlSeconds: waiterTtlSeconds,
    endedTasks: new Set(),
  });
  const heldBy = state.live.map((h) => h.data.holder);
  return {
    name: snapshot.lock?.data.name ?? name,
    permits: state.permits,
    lastFence: snapshot.lock?.data.fence ?? 0,
    readAt: isoFromMicros(snapshot.readDate),
    holders: snapshot.holders.map((h) => holderView(h, snapshot.readDate)),
    waiters: state.waiters.map((w, i) => ({
      ...waiterView(w, i + 1),
      why: whyWaiting(i, state.free, state.permits, heldBy),
    })),
  };
}

/** Every lock with its holders and number of waiters. */
export async function listLocks(
  client: TableClient,
  waiterTtlSeconds: number,
): Promise<LockSummary[]> {
  const snapshots = await readAllLockSnapshots(client);
  const out: LockSummary[] = [];
  for (const { lock, holders, waiters, readDate } of snapshots) {
    if (!lock) continue;
    out.push({
      name: lock.data.name,
      permits: lock.data.permits,
      lastFence: lock.data.fence,
      holders: holders.filter((h) => !holderExpired(h, readDate)).map((h) => h.data.holder),
      waiters: waiters.filter((w) => waiterLive(w, readDate, waiterTtlSeconds)).length,
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

function isoFromMicros(micros: Micros): string {
  return new Date(Math.floor(micros / 1000)).toISOString();
}

function holderView(h: Stored<HolderRow>, readDate: Micros): HolderView {
  return {
    holder: h.data.holder,
    fence: h.data.fence,
    grantedAt: h.data.grantedAt,
    expiresAt: formatMicros(holderExpiresAt(h)),
    ttlSeconds: h.data.ttlSeconds,
    ...(h.data.octopusTaskId ? { octopusTaskId: h.data.octopusTaskId } : {}),
    expired: holderExpired(h, readDate),
  };
}

function waiterView(w: Stored<WaiterRow>, position: number): Omit<WaiterView, 'why'> {
  return {
    position,
    holder: w.data.holder,
    priority: w.data.priority,
    ticket: w.data.ticket,
    queuedAt: w.data.queuedAt,
    ...(w.data.octopusTaskId ? { octopusTaskId: w.data.octopusTaskId } : {}),
  };
}

/** Why the waiter at `index` (0-based, in queue order) waits, in words (the API and the status page). */
export function whyWaiting(index: number, free: number, permits: number, heldBy: string[]): string {
  if (index < free) return 'a permit is free: it is granted when it next asks';
  const held = `${heldBy.length} of ${permits} permit(s) held by ${heldBy.join(', ') || 'nobody'}`;
  const ahead = index - free;
  return ahead > 0 ? `${held}; ${ahead} waiter(s) ahead of it` : `${held}; it is next in line`;
}

/**
 * Cycles of task-bound holders waiting for each other: task A holds lock X and waits for lock Y,
 * which task B holds while waiting for X (or longer cycles). Only task-bound holders and waiters
 * take part: a task id names the same deployment on both sides.
 */
export function findDeadlocks(
  snapshots: readonly LockSnapshot[],
  waiterTtlSeconds: number,
): Deadlock[] {
  const holdersOf = new Map<string, { task: string; holder: string }[]>();
  const waitsOf = new Map<string, string[]>();
  for (const snapshot of snapshots) {
    const name = snapshot.lock?.data.name ?? snapshot.partitionKey;
    for (const h of snapshot.holders) {
      if (!h.data.octopusTaskId || holderExpired(h, snapshot.readDate)) continue;
      const list = holdersOf.get(name) ?? [];
      list.push({ task: h.data.octopusTaskId, holder: h.data.holder });
      holdersOf.set(name, list);
    }
    for (const w of snapshot.waiters) {
      if (!w.data.octopusTaskId || !waiterLive(w, snapshot.readDate, waiterTtlSeconds)) continue;
      const list = waitsOf.get(w.data.octopusTaskId) ?? [];
      list.push(name);
      waitsOf.set(w.data.octopusTaskId, list);
    }
  }
  // Edges: a task waits for a lock held by another task.
  const edges = new Map<string, { to: string; lock: string; holder: string }[]>();
  for (const [task, locks] of waitsOf) {
    for (const lock of locks) {
      for (const h of holdersOf.get(lock) ?? []) {
        if (h.task === task) continue;
        const list = edges.get(task) ?? [];
        list.push({ to: h.task, lock, holder: h.holder });
        edges.set(task, list);
      }
    }
  }
  const found = new Map<string, Deadlock>();
  const visit = (
    start: string,
    at: string,
    path: { task: string; lock: string; holder: string; to: string }[],
  ) => {
    if (path.length > 8) return;
    for (const edge of edges.get(at) ?? []) {
      const step = { task: at, lock: edge.lock, holder: edge.holder, to: edge.to };
      if (edge.to === start) {
        const cycle = [...path, step];
        const id = cycle
          .map((s) => s.task)
          .sort()
          .join('|');
        if (found.has(id)) continue;
        const waits = cycle.map((s) => ({
          task: s.task,
          waitsFor: s.lock,
          heldBy: s.to,
          holder: s.holder,
        }));
        found.set(id, {
          tasks: cycle.map((s) => s.task),
          waits,
          message:
            `Deadlock: ${waits.map((w) => `${w.task} waits for "${w.waitsFor}", held by ${w.heldBy}`).join('; ')}. ` +
            'None of them can go on until one gives up: cancel one of these Octopus tasks (its leases are freed when it ends), or force-release one of the locks.',
        });
      } else if (!path.some((p) => p.task === edge.to) && edge.to !== at) {
        visit(start, edge.to, [...path, step]);
      }
    }
  };
  for (const task of edges.keys()) visit(task, task, []);
  return [...found.values()];
}
