// Events we acknowledged while Table Storage was down, held in memory and written when it is back.
// Answering 2xx here is deliberate: a non-2xx makes Octopus drop the rest of its batch for good
// (octopus-api.md §9), so refusing would lose more events than it saves. What this buffer cannot
// keep (the instance stops first) the status poll still recovers from the dashboard.
import type { Log } from '../runtime/log.js';
import type { Runtime } from '../runtime/runtime.js';
import type { OctopusWebhookEvent } from './payload.js';
import { storeEventOnce, type ReceiptInfo } from './store.js';

/** Bounds memory if storage stays down under a flood of events; the oldest are dropped first. */
export const maxUnstoredEvents = 5000;

interface Unstored {
  event: OctopusWebhookEvent;
  receipt: ReceiptInfo;
}

const buffers = new WeakMap<Runtime, Map<string, Unstored>>();

function bufferOf(runtime: Runtime): Map<string, Unstored> {
  let buffer = buffers.get(runtime);
  if (!buffer) {
    buffer = new Map();
    buffers.set(runtime, buffer);
  }
  return buffer;
}

export function holdUnstoredEvent(
  runtime: Runtime,
  event: OctopusWebhookEvent,
  receipt: ReceiptInfo,
): void {
  const buffer = bufferOf(runtime);
  buffer.set(event.Id, { event, receipt });
  while (buffer.size > maxUnstoredEvents) {
    const oldest = buffer.keys().next().value;
    if (oldest === undefined) break;
    buffer.delete(oldest);
  }
}

export function unstoredEventCount(runtime: Runtime): number {
  return buffers.get(runtime)?.size ?? 0;
}

/** Write held events (stored or duplicate both clear them); stops at the first storage failure. */
export async function storeHeldEvents(runtime: Runtime, log: Log): Promise<number> {
  const buffer = buffers.get(runtime);
  if (!buffer || buffer.size === 0) return 0;
  let written = 0;
  for (const [id, held] of [...buffer]) {
    try {
      await storeEventOnce(runtime.tables, held.event, held.receipt);
    } catch (err) {
      log.warn(
        `Table Storage is still failing; ${buffer.size} acknowledged event(s) wait in memory: ${(err as Error).message}`,
      );
      break;
    }
    buffer.delete(id);
    written += 1;
  }
  if (written > 0)
    log.info(`Stored ${written} event(s) that arrived while Table Storage was unavailable.`);
  return written;
}
