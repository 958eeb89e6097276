// What people see of a lock: its holders, its queue in order with why each waits, and a summary of all locks.
import type { TableClient } from '@azure/data-tables';
import { encodeKey } from '../storage/keys.js';
import { lockState } from './acquireDecision.js';
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
