// One status poll, the safety net under the webhook: processes stored events, reads the dashboard once per space, records each set's state, and hands the snapshot to consumers.
import { processPendingEvents, type ProcessResult } from '../events/process.js';
import { catchUpEvents } from '../events/catchUp.js';
import { storeHeldEvents } from '../events/unstored.js';
import { octopusForSpace, spaceOfSet } from '../runtime/spaceClients.js';
import type { Log } from '../runtime/log.js';
import type { Runtime } from '../runtime/runtime.js';
import { versionProblem } from '../octopus/serverVersion.js';
import type { OctopusClient } from '../octopus/client.js';
import type { EventConsumer } from '../events/consumers.js';
import { eventConsumers, statusConsumers } from './consumers.js';
import type { StatusConsumer } from '../status/consumers.js';
import { recordSetStatus } from '../status/record.js';
import { takeStatusSnapshot, type StatusSnapshot } from '../status/snapshot.js';

export interface PollResult {
  ran: true;
  /** `caughtUp`: events read from Octopus's events API that no webhook had brought. */
  events: ProcessResult & { caughtUp: number };
  cells: number;
  rowsWritten: number;
  octopusCalls: number;
  problems: StatusSnapshot['problems'];
  consumers: { name: string; error?: string }[];
}

export interface PollConsumers {
  events: readonly EventConsumer[];
  status: readonly StatusConsumer[];
}

/** Every space the config reads from: its default and each set's own. */
export function pollSpaces(runtime: Runtime): string[] {
  return [
    runtime.config.space ?? runtime.settings.octopusSpace,
    ...Object.keys(runtime.config.projectSets).map((set) => spaceOfSet(runtime, set)),
  ];
}

/** One poll without the lock (the lock is the caller's business; tests call this directly). */
export async function pollOnce(
  runtime: Runtime,
  log: Log,
  plugged: PollConsumers = { events: eventConsumers, status: statusConsumers },
): Promise<PollResult> {
  await storeHeldEvents(runtime, log);
  // Events a dropped webhook never brought: read from Octopus since the cursor, stored once, and
  // processed in this pass with the rest (the same consumers, so a rule sees each event once).
  const caughtUp = runtime.octopus
    ? await catchUpEvents(
        runtime,
        pollSpaces(runtime),
        (space) => octopusForSpace(runtime, space),
        log,
      )
    : undefined;
  let snapshot: StatusSnapshot | undefined;
  const events = await processPendingEvents(
    runtime,
    log,
    plugged.events,
    async () => {
      if (!runtime.octopus) return undefined;
      snapshot = await takeStatusSnapshot(runtime);
      return snapshot;
    },
    caughtUp?.stored ?? [],
  );
  const eventsResult = { ...events, caughtUp: caughtUp?.stored.length ?? 0 };
  if (!snapshot) {
    log.warn('Status poll: Octopus is not configured (OCTOPUS_URL), so no set status was read.');
    return {
      ran: true,
      events: eventsResult,
      cells: 0,
      rowsWritten: 0,
      octopusCalls: 0,
      problems: [],
      consumers: [],
    };
  }
  for (const p of snapshot.problems)
    log.warn(`Status poll: set ${p.set} was not read: ${p.message}`);
  if (runtime.octopus) await warnIfUnsupported(runtime.octopus, log);
  const rowsWritten = await recordSetStatus(runtime, snapshot);
  const consumers: { name: string; error?: string }[] = [];
  for (const consumer of plugged.status) {
    try {
      await consumer.run(runtime, snapshot, log);
      consumers.push({ name: consumer.name });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log.error(`Status poll: consumer ${consumer.name} failed: ${error}`);
      consumers.push({ name: consumer.name, error });
    }
  }
  return {
    ran: true,
    events: eventsResult,
    cells: snapshot.cells.length,
    rowsWritten,
    octopusCalls: snapshot.octopusCalls + (caughtUp?.calls ?? 0),
    problems: snapshot.problems,
    consumers,
  };
}

const versionChecked = new WeakSet<OctopusClient>();

/** Once per client (so once per process, at its first poll): say so loudly when the server is too old. */
async function warnIfUnsupported(octopus: OctopusClient, log: Log): Promise<void> {
  if (versionChecked.has(octopus)) return;
  versionChecked.add(octopus);
  try {
    const problem = versionProblem(await octopus.serverVersion());
    if (problem) log.error(`Octopus server: ${problem}`);
  } catch {
    versionChecked.delete(octopus); // try again at the next poll
  }
}
