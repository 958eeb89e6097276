// The pure lock decision, without storage: FIFO, priority bands, permits, request identity.
import { describe, expect, it } from 'vitest';
import {
  decideAcquire,
  type AcquireDecision,
  type AcquireRequest,
  type DecisionOptions,
} from '../../shared/locks/acquireDecision.js';
import { isLockError } from '../../shared/locks/errors.js';
import {
  holderRowKey,
  lockRowKey,
  waiterRowKey,
  type HolderRow,
  type KeyedBy,
  type WaiterRow,
} from '../../shared/locks/rows.js';
import type { LockSnapshot, Stored } from '../../shared/locks/snapshot.js';

const second = 1_000_000;
const now = 1_800_000_000 * second;

interface Holding {
  holder: string;
  requestKey?: string;
  keyedBy?: KeyedBy;
  fence: number;
  ttlSeconds?: number;
  /** Seconds since the holder row was last written (default 1). */
  age?: number;
  octopusTaskId?: string;
}

interface Waiting {
  holder: string;
  requestKey?: string;
  keyedBy?: KeyedBy;
  ticket: number;
  priority?: number;
  age?: number;
}

function snapshot(
  state: { permits?: number; holders?: Holding[]; waiters?: Waiting[] } = {},
): LockSnapshot {
  const holders = (state.holders ?? []).map((h): Stored<HolderRow> => ({
    rowKey: holderRowKey(h.fence, 'a'.repeat(24)),
    etag: `h${h.fence}`,
    timestamp: now - (h.age ?? 1) * second,
    data: {
      holder: h.holder,
      requestKey: h.requestKey ?? h.holder,
      keyedBy: h.keyedBy ?? 'holder',
      fence: h.fence,
      ttlSeconds: h.ttlSeconds ?? 60,
      grantedAt: '',
      ...(h.octopusTaskId ? { octopusTaskId: h.octopusTaskId } : {}),
    },
  }));
  const waiters = (state.waiters ?? [])
    .map((w): Stored<WaiterRow> => ({
      rowKey: waiterRowKey(w.priority ?? 0, w.ticket),
      etag: `w${w.ticket}`,
      timestamp: now - (w.age ?? 1) * second,
      data: {
        holder: w.holder,
        requestKey: w.requestKey ?? w.holder,
        keyedBy: w.keyedBy ?? 'holder',
        ticket: w.ticket,
        priority: w.priority ?? 0,
        queuedAt: '',
      },
    }))
    .sort((a, b) => (a.rowKey < b.rowKey ? -1 : 1));
  const used = state.holders !== undefined || state.waiters !== undefined;
  const fence = Math.max(0, ...(state.holders ?? []).map((h) => h.fence));
  const ticket = Math.max(0, ...(state.waiters ?? []).map((w) => w.ticket));
  return {
    partitionKey: 'deploy',
    readDate: now,
    lock:
      used || state.permits !== undefined
        ? {
            rowKey: lockRowKey,
            etag: 'lock',
            timestamp: now - 5 * second,
            data: { name: 'deploy', permits: state.permits ?? 1, fence, ticket },
          }
        : undefined,
    holders,
    waiters,
  };
}

function request(holder: string, more: Partial<AcquireRequest> = {}): AcquireRequest {
  return {
    holder,
    requestKey: holder,
    keyedBy: 'holder',
    permits: undefined,
    ttlSeconds: 60,
    octopusTaskId: undefined,
    priority: 0,
    queue: true,
    ...more,
  };
}

const options: DecisionOptions = {
  lockName: 'deploy',
  waiterTtlSeconds: 120,
  endedTasks: new Set(),
  newSecret: () => 'b'.repeat(24),
  // A newcomer arrives now (storage µs): after every waiter of the fixtures.
  newPlace: () => ({ key: waiterRowKey(0, now, 'n0'), ticket: now }),
};

const decide = (s: LockSnapshot, r: AcquireRequest, o: Partial<DecisionOptions> = {}) =>
  decideAcquire(s, r, { ...options, ...o });

function place(d: AcquireDecision): string {
  if (d.kind === 'queued') return `queued ${d.ahead + 1}`;
  if (d.kind === 'grant') return `grant ${d.fence}`;
  return d.kind;
}

describe('decideAcquire', () => {
  it('grants a free lock fence 1 in one batch: lock row and holder row (history is kept elsewhere)', () => {
    const d = decide(snapshot(), request('a'));
    expect(d).toMatchObject({ kind: 'grant', fence: 1, permits: 1, reaped: [] });
    if (d.kind !== 'grant') return;
    expect(d.actions.map(([verb, e]) => `${verb} ${e.rowKey}`)).toEqual([
      `create ${lockRowKey}`,
      `create ${holderRowKey(1, 'b'.repeat(24))}`,
    ]);
  });

  it('serves waiters first in, first out: a newcomer queues behind them, the head is granted', () => {
    const busy = snapshot({
      holders: [{ holder: 'h', fence: 4 }],
      waiters: [
        { holder: 'first', ticket: 1 },
        { holder: 'second', ticket: 2 },
      ],
    });
    expect(place(decide(busy, request('third')))).toBe('queued 3');
    const d = decide(busy, request('third'));
    expect(d.kind === 'queued' && d.ticket).toBe(now);

    const freed = snapshot({
      waiters: [
        { holder: 'first', ticket: 1 },
        { holder: 'second', ticket: 2 },
      ],
    });
    freed.lock = busy.lock;
    expect(place(decide(freed, request('second')))).toBe('queued 2');
    expect(place(decide(freed, request('newcomer')))).toBe('queued 3');
    expect(place(decide(freed, request('first')))).toBe('grant 5');
  });

  it('serves a higher priority band before a lower one, and FIFO inside a band', () => {
    const s = snapshot({
      holders: [{ holder: 'h', fence: 1 }],
      waiters: [
        { holder: 'low-1', ticket: 1, priority: 0 },
        { holder: 'high-1', ticket: 2, priority: 5 },
        { holder: 'low-2', ticket: 3, priority: 0 },
      ],
    });
    expect(s.waiters.map((w) => w.data.holder)).toEqual(['high-1', 'low-1', 'low-2']);
    expect(place(decide(s, request('high-2', { priority: 5 })))).toBe('queued 2');
    expect(place(decide(s, request('top', { priority: 9 })))).toBe('queued 1');
    expect(place(decide(s, request('low-3', { priority: 0 })))).toBe('queued 4');
    // With the holder gone, a newcomer of a higher band than every waiter is granted at once.
    const free = snapshot({ waiters: s.waiters.map((w) => ({ ...w.data })) });
    expect(place(decide(free, request('top', { priority: 9 })))).toBe('grant 1');
    expect(place(decide(free, request('low-3')))).toBe('queued 4');
  });

  it('grants up to the permits and queues past them', () => {
    const two = snapshot({
      permits: 3,
      holders: [
        { holder: 'a', fence: 1 },
        { holder: 'b', fence: 2 },
      ],
    });
    expect(place(decide(two, request('c')))).toBe('grant 3');
    const three = snapshot({
      permits: 3,
      holders: [
        { holder: 'a', fence: 1 },
        { holder: 'b', fence: 2 },
        { holder: 'c', fence: 3 },
      ],
    });
    expect(place(decide(three, request('d')))).toBe('queued 1');
    expect(decide(three, request('d', { queue: false }))).toEqual({
      kind: 'refused',
      position: null,
    });
  });

  it('refuses a different permit count while the lock is in use, and takes it when unused', () => {
    const inUse = snapshot({ permits: 2, holders: [{ holder: 'a', fence: 1 }] });
    let err: unknown;
    try {
      decide(inUse, request('b', { permits: 3 }));
    } catch (e) {
      err = e;
    }
    expect(isLockError(err, 'permits_mismatch')).toBe(true);
    expect(decide(snapshot({ permits: 2 }), request('b', { permits: 3 }))).toMatchObject({
      kind: 'grant',
      permits: 3,
    });
    expect(decide(inUse, request('b'))).toMatchObject({ kind: 'grant', permits: 2 });
  });

  it('answers a repeated request with its existing lease, by request identity only', () => {
    const s = snapshot({
      holders: [{ holder: 'web01', requestKey: 'req-1', keyedBy: 'requestId', fence: 7 }],
    });
    expect(
      decide(s, request('web01', { requestKey: 'req-1', keyedBy: 'requestId' })),
    ).toMatchObject({ kind: 'existing', holder: { data: { fence: 7 } } });
    // A row keyed by a requestId never answers to a holder name, even one spelled like that id.
    expect(place(decide(s, request('req-1')))).toBe('queued 1');
    // Nor to another request id from the same holder.
    expect(place(decide(s, request('web01', { requestKey: 'req-2', keyedBy: 'requestId' })))).toBe(
      'queued 1',
    );
  });

  it('keeps a waiter its place (same ticket) when it asks again', () => {
    const s = snapshot({
      holders: [{ holder: 'h', fence: 1 }],
      waiters: [
        { holder: 'a', ticket: 1 },
        { holder: 'b', ticket: 2 },
      ],
    });
    const again = decide(s, request('b'));
    expect(again).toMatchObject({
      kind: 'queued',
      ahead: 1,
      ticket: 2,
      actions: [],
      joined: false,
    });
  });

  it('reaps an expired holder or one whose Octopus task ended, and grants in the same batch', () => {
    const expired = snapshot({ holders: [{ holder: 'old', fence: 3, ttlSeconds: 60, age: 62 }] });
    const d = decide(expired, request('new'));
    expect(d).toMatchObject({ kind: 'grant', fence: 4, reaped: [{ reason: 'expired' }] });
    const justInside = snapshot({
      holders: [{ holder: 'old', fence: 3, ttlSeconds: 60, age: 60 }],
    });
    expect(place(decide(justInside, request('new')))).toBe('queued 1');
    const ended = snapshot({
      holders: [{ holder: 'old', fence: 3, octopusTaskId: 'ServerTasks-9' }],
    });
    expect(decide(ended, request('new'), { endedTasks: new Set(['ServerTasks-9']) })).toMatchObject(
      { kind: 'grant', reaped: [{ reason: 'task-ended' }] },
    );
  });

  it('a newcomer joins by writing only its own rows (a waiter row and its index row), never the lock row', () => {
    const busy = snapshot({
      holders: [{ holder: 'h', fence: 1 }],
      waiters: [1, 2, 3].map((t) => ({ holder: `w${t}`, ticket: t })),
    });
    const d = decide(busy, request('w4'));
    expect(place(d)).toBe('queued 4');
    if (d.kind !== 'queued') return;
    expect(d.joined).toBe(true);
    expect(d.actions.map(([verb, e]) => `${verb} ${e.rowKey.slice(0, 2)}`)).toEqual([
      'create w-',
      'create x-',
    ]);
    // Asking again with its place keeps it without writing anything while the place is fresh.
    expect(place(decide(busy, request('w3')))).toBe('queued 3');
  });

  it('grants from a bounded read: holders and the head of the queue are enough', () => {
    const head = snapshot({ waiters: [{ holder: 'first', ticket: 1 }] });
    head.lock = snapshot({ holders: [{ holder: 'h', fence: 3 }] }).lock;
    head.complete = false; // the read stopped after the first waiter (the queue goes on)
    expect(place(decide(head, request('first')))).toBe('grant 4');
    // A caller beyond the read (its place found through its index) is not granted.
    expect(
      place(
        decide(head, request('tenth'), {
          knownPlace: { key: waiterRowKey(0, now, 'x'), live: true, exists: true },
        }),
      ),
    ).toBe('queued 2');
  });
});
