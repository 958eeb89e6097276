// What gets the status poll's snapshot: the interface. The list is the composition root's
// (shared/app/consumers.ts); add a consumer there instead of reading Octopus again: the snapshot
// holds each space's dynamic dashboard and each set's cells.
//
// Consumers run one after another, each in a try/catch: one failing does not stop the others.
// They may run twice for one minute (manual runs, a lost host lease): make them idempotent.
import type { Log } from '../runtime/log.js';
import type { Runtime } from '../runtime/runtime.js';
import type { StatusSnapshot } from './snapshot.js';

export interface StatusConsumer {
  name: string;
  run(runtime: Runtime, snapshot: StatusSnapshot, log: Log): Promise<void>;
}
