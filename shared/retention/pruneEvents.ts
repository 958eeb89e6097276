// Processed webhook events past their retention. Unprocessed events are never deleted, nor the
// processor's watermark (another partition): only rows the processor has finished with.
import { odata } from '@azure/data-tables';
import { eventPartition, eventsTable } from '../events/store.js';
import { findCandidates } from './budget.js';
import { deleteRows, keyOf } from './deleteRows.js';
import type { PrunePhase } from './phase.js';
import { cutoffIso } from './policy.js';

export const processedEventsPhase: PrunePhase = {
  name: 'events',
  async run({ tables, now, policy, budget }) {
    const client = await tables.table(eventsTable);
    const before = cutoffIso(now, policy.processedEventDays);
    // receivedAt is an ISO string, so string order is time order. A row with no processedAt is
    // pending (or failing and not yet set aside): it stays whatever its age.
    const found = await findCandidates(
      client,
      {
        filter: odata`PartitionKey eq ${eventPartition} and receivedAt lt ${before}`,
        select: ['receivedAt', 'processedAt'],
      },
      budget,
      (row) => typeof row.processedAt !== 'string' || row.processedAt === '',
    );
    const deleted = await deleteRows(client, found.rows.map(keyOf));
    budget.deleted += found.rows.length;
    return { deleted, complete: found.complete };
  },
};
