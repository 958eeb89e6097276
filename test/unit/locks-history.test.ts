// The overlap check over a lock's grant history (findOverlaps): pure, no storage.
import { describe, expect, it } from 'vitest';
import { findOverlaps, type GrantRecord } from '../../shared/locks/history.js';

/** A grant of a mutex held over [start, end) in ms (µs in the record); end undefined = no end record. */
function grant(fence: number, start: number, end: number | undefined, permits = 1): GrantRecord {
  return {
    fence,
    holder: `h${fence}`,
    permits,
    ttlSeconds: 60,
    grantedAt: start * 1000,
    endedAt: end === undefined ? undefined : end * 1000,
    state: end === undefined ? 'unknown' : 'released',
  };
}

describe('findOverlaps', () => {
  it('a grant released in the microsecond it was granted is not held forever', () => {
    // Azurite stamps a write with the millisecond its request arrived: a release answered within it
    // gets its grant's time. Taking that end before its start left fence 2 held for every later grant.
    const history = [grant(1, 0, 5), grant(2, 5, 5), grant(3, 6, 9), grant(4, 9, 12)];
    expect(findOverlaps(history)).toMatchObject({
      grants: 4,
      overlaps: [],
      fenceOrderViolations: [],
      unended: [],
      endedBeforeGranted: [],
      missingFences: 0,
    });
  });

  it('an end recorded before its grant counts as held at the grant instant, and is listed', () => {
    const history = [grant(1, 0, 5), grant(2, 6, 5.5), grant(3, 7, 9)];
    const report = findOverlaps(history);
    expect(report.overlaps).toEqual([]);
    expect(report.endedBeforeGranted).toEqual([2]);
  });

  it('a grant held for an instant while another holds is still an overlap', () => {
    const report = findOverlaps([grant(1, 0, 10), grant(2, 5, 5), grant(3, 11, 12)]);
    expect(report.overlaps).toEqual([
      expect.objectContaining({ fence: 2, heldTogether: [1, 2], permits: 1 }),
    ]);
  });

  it('a grant without an end record is listed, not counted as held by every later grant', () => {
    const history = [grant(1, 0, 5), grant(2, 5, undefined), grant(3, 8, 9), grant(4, 9, 12)];
    expect(findOverlaps(history)).toMatchObject({
      overlaps: [],
      unended: [2],
    });
  });

  it('with a grant of unknown end, two holders with known times are still an overlap', () => {
    const history = [grant(1, 0, undefined), grant(2, 5, 10), grant(3, 7, 12), grant(4, 12, 13)];
    const report = findOverlaps(history);
    expect(report.unended).toEqual([1]);
    expect(report.overlaps).toEqual([
      expect.objectContaining({ fence: 3, heldTogether: [2, 3], permits: 1 }),
    ]);
  });

  it('a grant of unknown end that started while a known holder held is an overlap', () => {
    const report = findOverlaps([grant(1, 0, 10), grant(2, 5, undefined), grant(3, 11, 12)]);
    expect(report.overlaps).toEqual([
      expect.objectContaining({ fence: 2, heldTogether: [1, 2], permits: 1 }),
    ]);
    expect(report.unended).toEqual([2]);
  });

  it('with permits, grants of unknown end give way only as far as the permits need', () => {
    // 2 permits: fence 1 (unknown end) and 2 held; 3 needs a permit, so 1 is taken as ended; 4
    // arrives while 2 and 3 hold: a real overlap.
    const history = [
      grant(1, 0, undefined, 2),
      grant(2, 1, 10, 2),
      grant(3, 2, 10, 2),
      grant(4, 3, 5, 2),
    ];
    expect(findOverlaps(history).overlaps).toEqual([
      expect.objectContaining({ fence: 4, heldTogether: [2, 3, 4], permits: 2 }),
    ]);
  });

  it('counts fences missing between the first and last grant', () => {
    expect(findOverlaps([grant(3, 0, 1), grant(6, 2, 3)]).missingFences).toBe(2);
    expect(findOverlaps([]).missingFences).toBe(0);
  });
});
