// In-process wake-ups: who is woken, who is at the front here, and which leases count as held here.
import { describe, expect, it } from 'vitest';
import { LockWakeups } from '../../shared/locks/wakeups.js';

const settled = async (p: Promise<unknown>): Promise<boolean> => {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

describe('LockWakeups', () => {
  it('wakes the first waiter in queue order, a caller that just joined by the place it set', async () => {
    const wakeups = new LockWakeups();
    const back = wakeups.next('pk', undefined, 'w-5-b');
    const joined = wakeups.next('pk'); // subscribed before its place was known
    joined.setKey('w-5-a');
    wakeups.notify('pk', 1);
    expect(await settled(joined.promise)).toBe(true);
    expect(await settled(back.promise)).toBe(false);
    back.cancel();
  });

  it('tells a waiter when it moves to the front here, not while one is still ahead', async () => {
    const wakeups = new LockWakeups();
    const first = wakeups.next('pk', undefined, 'w-5-a');
    const second = wakeups.next('pk', undefined, 'w-5-b');
    const third = wakeups.next('pk', undefined, 'w-5-c');
    expect([first.atFront(), second.atFront(), third.atFront()]).toEqual([true, false, false]);
    third.cancel(); // behind: changes nothing at the front
    expect(await settled(second.promoted)).toBe(false);
    first.cancel();
    expect(await settled(second.promoted)).toBe(true);
    expect(second.atFront()).toBe(true);
    second.cancel();
  });

  it('counts leases as held here until they end here or run out', () => {
    const wakeups = new LockWakeups();
    expect(wakeups.heldHere('pk', ['h-1'])).toBe(false);
    wakeups.granted('pk', 'h-1', 60, 'w-5-a');
    wakeups.granted('pk', 'h-2', 0);
    expect(wakeups.heldHere('pk', ['h-1'])).toBe(true);
    expect(wakeups.heldHere('pk', ['h-1', 'h-2'])).toBe(false); // ran out
    expect(wakeups.heldHere('pk', ['h-1', 'h-3'])).toBe(false); // granted elsewhere
    expect(wakeups.heldHere('other', ['h-1'])).toBe(false);
    // The place it was granted to still counts as a waiter here (a read may still show it).
    expect(wakeups.listeningHere('pk', ['w-5-a'])).toBe(true);
    expect(wakeups.listeningHere('pk', ['w-5-b'])).toBe(false);
    wakeups.ended('pk', 'h-1');
    expect(wakeups.heldHere('pk', ['h-1'])).toBe(false);
    expect(wakeups.listeningHere('pk', ['w-5-a'])).toBe(false);
  });

  it('forgets leases freed by someone else (forced, reaped) as held here, and wakes one waiter per permit', async () => {
    const wakeups = new LockWakeups();
    wakeups.granted('pk', 'h-1', 60, 'w-1');
    wakeups.granted('pk', 'h-2', 60, 'w-2');
    const first = wakeups.next('pk', undefined, 'w-5-a');
    const second = wakeups.next('pk', undefined, 'w-5-b');
    const third = wakeups.next('pk', undefined, 'w-5-c');
    wakeups.freed('pk', ['h-1', 'h-2']);
    expect(wakeups.heldHere('pk', ['h-1'])).toBe(false);
    expect(wakeups.heldHere('pk', ['h-2'])).toBe(false);
    expect(wakeups.listeningHere('pk', ['w-1'])).toBe(false);
    expect(await settled(first.promise)).toBe(true);
    expect(await settled(second.promise)).toBe(true);
    expect(await settled(third.promise)).toBe(false);
    third.cancel();
  });
});
