// What hears about each stored Octopus event: the interface. The list of consumers is the
// composition root's (shared/app/consumers.ts); add a consumer there to act on events.
//
// A consumer must be idempotent: the same event can reach it more than once (a retry after another
// consumer failed, the poll and the immediate pass racing, two instances). Claim side effects with
// createIfAbsent, as the watches do. Throwing leaves the event pending; it is retried on later polls.
import type { Log } from '../runtime/log.js';
import type { Runtime } from '../runtime/runtime.js';
import type { StatusSnapshot } from '../status/snapshot.js';
import type { OctopusWebhookEvent } from './payload.js';

/**
 * What consumers keep for the rest of one pass, for example a list read once per pass instead of once
 * per event. Each feature adds its own optional fields by declaration merging (`declare module`), so
 * this mechanism names no feature.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface EventPassMemo {}

export interface EventContext {
  /** Set when the status poll processes the event: a dashboard read taken after the event was stored. */
  snapshot?: StatusSnapshot;
  /**
   * Project sets already re-read from Octopus during this pass. Every event of a pass was stored
   * before the pass began, so a set in here needs no second read for a later event of the pass.
   */
  refreshedSets: Set<string>;
  /** What consumers keep for the rest of this pass (see EventPassMemo). */
  memo: EventPassMemo;
}

export interface EventConsumer {
  /** Shown in logs and in the error recorded on a failed event. */
  name: string;
  handle(
    runtime: Runtime,
    event: OctopusWebhookEvent,
    log: Log,
    context: EventContext,
  ): Promise<void>;
}
