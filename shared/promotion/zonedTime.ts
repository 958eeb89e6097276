// Freeze-window bounds ("2026-12-24" or "2026-12-24T18:00[:ss]" in a zone) as UTC instants.
import { instantOfLocal } from '../time/zones.js';

/**
 * `2026-12-24` or `2026-12-24T18:00[:ss]` read in `zone`, as a UTC instant. A local time in the
 * spring gap maps to the instant after the gap; in the repeated autumn hour, to the first one.
 */
export function localToInstant(local: string, zone: string): Date {
  const m = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2})?))?$/.exec(local);
  if (!m?.[1])
    throw new Error(`"${local}" is not a local date or date-time such as 2026-12-24T18:00`);
  return instantOfLocal(m[1], m[2] ?? '00:00', zone);
}
