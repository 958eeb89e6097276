// Configured promotions for the page: each one's next slot (in its own zone) and how its last slot
// ended, from one query of the promotions table.
import { SlotStore } from '../promotion/slotStore.js';
import { cronSlots } from '../promotion/slots.js';
import type { Runtime } from '../runtime/runtime.js';
import type { PromotionView } from './model.js';

/** How far ahead the next slot is looked for (a yearly cron shows none). */
const lookAheadMs = 40 * 24 * 3600_000;

export async function readPromotions(runtime: Runtime): Promise<PromotionView[]> {
  if (runtime.config.promotions.length === 0) return [];
  const latest = await new SlotStore(runtime.tables).latestOfEach();
  const now = runtime.clock.now();
  return runtime.config.promotions.map((p) => {
    const last = latest.get(p.name);
    return {
      name: p.name,
      set: p.set,
      from: p.from,
      to: p.to,
      cron: p.cron,
      timeZone: p.timeZone,
      nextSlot: cronSlots(
        p.cron,
        p.timeZone,
        now,
        new Date(now.getTime() + lookAheadMs),
        1,
      )[0]?.toISOString(),
      last: last
        ? {
            slot: last.slot,
            state: last.state,
            at: last.updatedAt,
            detail: last.detail,
            runId: last.runId,
          }
        : undefined,
    };
  });
}
