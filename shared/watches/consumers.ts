// Watches plugged into the two registries: the status poll's snapshot and each stored webhook event.
import type { EventConsumer } from '../events/consumers.js';
import { deploymentEventFacts } from '../events/payload.js';
import type { Log } from '../runtime/log.js';
import type { Runtime } from '../runtime/runtime.js';
import type { StatusConsumer } from '../status/consumers.js';
import { recordSetStatus } from '../status/record.js';
import { takeStatusSnapshot, type StatusSnapshot } from '../status/snapshot.js';
import { octopusForSpace, spaceOfSet } from '../runtime/spaceClients.js';
import { watchNotices, type WatchNotice } from './evaluate.js';
import { claimState, deliverNotices, type DeliveryOutcome } from './notify.js';
import { RunHolds } from './runHolds.js';
import { captureCell } from '../trains/soak.js';

/** Evaluate the watches of `sets` (default all) against a snapshot and deliver what is due. */
export async function fireWatches(
  runtime: Runtime,
  snapshot: StatusSnapshot,
  log: Log,
  sets?: ReadonlySet<string>,
): Promise<Record<DeliveryOutcome, number>> {
  const counts: Record<DeliveryOutcome, number> = {
    sent: 0,
    'already-sent': 0,
    'in-progress': 0,
    failed: 0,
    rejected: 0,
  };
  const due: WatchNotice[] = [];
  const holds = new RunHolds(runtime, snapshot.takenAt.getTime());
  for (const watch of runtime.config.watches) {
    if (sets && !sets.has(watch.set)) continue;
    const { notices, skipped } = watchNotices(watch, snapshot.cells);
    for (const s of skipped)
      log.info(
        `Watch ${s.watch} (${s.environment}${s.tenant ? `, ${s.tenant}` : ''}): not announced because ${s.reason}.`,
      );
    for (const notice of notices) {
      // A new announcement waits for coordinator runs; one claimed before goes on as it was.
      const claimed = await claimState(runtime, notice);
      if (claimed === 'sent' || claimed === 'rejected') {
        counts[claimed === 'sent' ? 'already-sent' : 'rejected'] += 1;
        continue;
      }
      if (claimed === undefined) {
        const reason = await holds.reasonToHold(notice);
        if (reason) {
          log.info(
            `Watch ${notice.watch.name} (${notice.environment}${notice.tenant ? `, ${notice.tenant}` : ''}): ${notice.kind} email held because ${reason}.`,
          );
          continue;
        }
      }
      if (notice.kind === 'live' && notice.watch.captureTrains) {
        // Before the email: a crash in between leaves the email to send, never a live set without its train.
        try {
          await captureNoticeTrains(runtime, snapshot, notice, log);
        } catch (err) {
          log.warn(
            `Watch ${notice.watch.name} (${notice.environment}${notice.tenant ? `, ${notice.tenant}` : ''}): the train could not be captured (${(err as Error).message}); the announcement waits for the next pass.`,
          );
          continue;
        }
      }
      due.push(notice);
    }
  }
  // All watches at once, so "who deployed" is one Octopus read per space, not one per notice.
  for (const outcome of await deliverNotices(runtime, due, log)) counts[outcome] += 1;
  return counts;
}

/** The cells a live notice announces (one, or each tenant's for "all tenants"), each captured as a train. */
async function captureNoticeTrains(
  runtime: Runtime,
  snapshot: StatusSnapshot,
  notice: WatchNotice,
  log: Log,
): Promise<void> {
  const lower = (s: string) => s.toLowerCase();
  const cells = snapshot.cells.filter(
    (c) =>
      c.set === notice.set &&
      c.state === 'complete' &&
      lower(c.environment) === lower(notice.environment) &&
      (notice.tenant === 'all tenants'
        ? c.tenant !== null &&
          (notice.watch.tenants ?? []).some((t) => lower(t) === lower(c.tenant?.name ?? ''))
        : (c.tenant?.name ?? null) === notice.tenant),
  );
  for (const cell of cells)
    await captureCell(runtime, cell, snapshot.takenAt, `watch ${notice.watch.name}`, log);
}

export const watchStatusConsumer: StatusConsumer = {
  name: 'watches',
  async run(runtime, snapshot, log) {
    logDeliveries(log, await fireWatches(runtime, snapshot, log));
  },
};

/** Which watched sets an event is about: the event's project is a member and the space matches. */
async function watchedSetsOf(
  runtime: Runtime,
  projectId: string,
  spaceId: string | undefined,
): Promise<string[]> {
  const watched = [...new Set(runtime.config.watches.map((w) => w.set))];
  const hits: string[] = [];
  for (const name of watched) {
    const set = runtime.config.projectSets[name];
    const client = octopusForSpace(runtime, spaceOfSet(runtime, name));
    if (!set || !client) continue;
    if (spaceId && (await client.spaceId()) !== spaceId) continue;
    const ids = await client.resolve.ids('project', set.projects).catch(() => [] as string[]);
    if (ids.includes(projectId)) hits.push(name);
  }
  return hits;
}

/**
 * A deployment that finished (or failed) may complete a watched set: confirm from the dashboard
 * (the event is a hint, octopus-api.md §9) and deliver. Nothing to do when the poll's snapshot,
 * taken after the event was stored, already covers the set: the poll's watch pass handles it.
 */
export const watchEventConsumer: EventConsumer = {
  name: 'watches',
  async handle(runtime, event, log, context) {
    const facts = deploymentEventFacts(event);
    if (
      !facts ||
      (facts.category !== 'DeploymentSucceeded' && facts.category !== 'DeploymentFailed')
    )
      return;
    if (runtime.config.watches.length === 0 || !runtime.octopus) return;
    const sets = (await watchedSetsOf(runtime, facts.projectId, facts.spaceId)).filter(
      (s) =>
        !context.refreshedSets.has(s) &&
        !(context.snapshot && !context.snapshot.problems.some((p) => p.set === s)),
    );
    if (sets.length === 0) return;
    const snapshot = await takeStatusSnapshot(runtime, { sets });
    for (const s of sets) context.refreshedSets.add(s);
    const unread = snapshot.problems.filter((p) => sets.includes(p.set));
    await recordSetStatus(runtime, snapshot);
    await fireWatches(runtime, snapshot, log, new Set(sets));
    if (unread.length > 0) {
      for (const s of unread) context.refreshedSets.delete(s.set);
      throw new Error(unread.map((p) => `set ${p.set}: ${p.message}`).join('; '));
    }
  },
};

export function logDeliveries(log: Log, counts: Record<DeliveryOutcome, number>): void {
  if (counts.sent + counts.failed + counts.rejected > 0) {
    log.info(
      `Watches: ${counts.sent} sent, ${counts.failed} failed (retried later), ${counts.rejected} refused.`,
    );
  }
}
