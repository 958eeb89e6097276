// Fencing for our own rows: a write made under a lease succeeds only if no newer lease wrote the row.
import type { TableClient, TableEntity } from '@azure/data-tables';
import { createIfAbsent, getOrUndefined, updateIfMatch } from '../storage/conditional.js';

/** The property that carries the fence of the lease that last wrote a row. */
export const fenceProperty = 'lockFence';

export type FencedWriteOutcome =
  { ok: true; etag: string } | { ok: false; reason: 'stale'; storedFence: number };

/**
 * Write `entity` (Replace, or Merge) only if the row's stored fence is ≤ `fence`, stamping `fence`
 * on it. A holder that was paused past its lease and comes back late gets `stale` instead of
 * overwriting the newer holder's work. Retries on concurrent writes.
 */
export async function fencedWrite<T extends object>(
  client: TableClient,
  entity: TableEntity<T>,
  fence: number,
  mode: 'Replace' | 'Merge' = 'Replace',
): Promise<FencedWriteOutcome> {
  const stamped = { ...entity, [fenceProperty]: fence };
  for (;;) {
    const current = await getOrUndefined<Record<string, unknown>>(
      client,
      entity.partitionKey,
      entity.rowKey,
    );
    if (!current) {
      const created = await createIfAbsent(client, stamped);
      if (created.ok) return { ok: true, etag: created.etag };
      continue;
    }
    const storedFence = Number(current[fenceProperty] ?? 0);
    if (storedFence > fence) return { ok: false, reason: 'stale', storedFence };
    const updated = await updateIfMatch(client, stamped, current.etag, mode);
    if (updated.ok) return { ok: true, etag: updated.etag };
  }
}
