// Local days and send times in IANA zones, including DST changes and zones off the whole hour.
import { describe, expect, it } from 'vitest';
import {
  dayWindow,
  parseReportDate,
  parseTimeZone,
  ReportDateError,
} from '../../shared/report/dayWindow.js';
import { dueSlots } from '../../shared/report/sendSlot.js';
import { totalsOf } from '../../shared/report/summarize.js';
import { instantOfLocal } from '../../shared/time/zones.js';

describe('day windows', () => {
  it('is 24 hours on an ordinary day, from local midnight', () => {
    const w = dayWindow('2026-11-20', 'Europe/Berlin');
    expect(w.start.toISOString()).toBe('2026-11-19T23:00:00.000Z');
    expect(w.end.toISOString()).toBe('2026-11-20T23:00:00.000Z');
    expect(w.hours).toBe(24);
  });

  it('is 23 hours when clocks go forward and 25 when they go back', () => {
    expect(dayWindow('2026-03-29', 'Europe/Berlin')).toMatchObject({ hours: 23 });
    expect(dayWindow('2026-10-25', 'Europe/Berlin')).toMatchObject({ hours: 25 });
    expect(dayWindow('2026-03-08', 'America/New_York').hours).toBe(23);
    expect(dayWindow('2026-11-01', 'America/New_York').hours).toBe(25);
    expect(dayWindow('2026-10-04', 'Australia/Lord_Howe').hours).toBe(24); // a 30-minute change rounds to 24
  });

  it('handles zones whose offset is not whole hours', () => {
    const w = dayWindow('2026-11-20', 'Asia/Kathmandu');
    expect(w.start.toISOString()).toBe('2026-11-19T18:15:00.000Z');
  });

  it('maps a send time skipped by DST to just after the gap', () => {
    expect(instantOfLocal('2026-03-29', '02:30', 'Europe/Berlin').toISOString()).toBe(
      '2026-03-29T01:30:00.000Z',
    );
    expect(instantOfLocal('2026-11-21', '07:00', 'Europe/Berlin').toISOString()).toBe(
      '2026-11-21T06:00:00.000Z',
    );
    expect(instantOfLocal('2026-07-01', '07:00', 'Europe/Berlin').toISOString()).toBe(
      '2026-07-01T05:00:00.000Z',
    );
  });

  it('makes yesterday due at the local send time, not before', () => {
    const window = 60 * 60_000;
    expect(dueSlots(new Date('2026-11-21T05:59:00Z'), 'Europe/Berlin', '07:00', window)).toEqual(
      [],
    );
    expect(
      dueSlots(new Date('2026-11-21T06:00:00Z'), 'Europe/Berlin', '07:00', window).map(
        (s) => s.date,
      ),
    ).toEqual(['2026-11-20']);
    // The day after clocks went back, 07:00 is 06:00Z.
    expect(
      dueSlots(new Date('2026-10-26T06:00:00Z'), 'Europe/Berlin', '07:00', window).map(
        (s) => s.date,
      ),
    ).toEqual(['2026-10-25']);
  });

  it('rejects a bad date or zone with a message that says how to fix it', () => {
    expect(() => parseReportDate('20-11-2026')).toThrow(/YYYY-MM-DD, for example 2026-11-20/);
    expect(() => parseReportDate('2026-02-30')).toThrow(ReportDateError);
    expect(() => parseTimeZone('Europe/Berlinn')).toThrow(/IANA name such as Europe\/Berlin/);
    expect(parseTimeZone('UTC')).toBe('UTC');
  });
});

describe('totals', () => {
  it('counts outcomes, takes the median and longest duration, and has no rate on an empty day', () => {
    const t = totalsOf([
      { outcome: 'Success', durationMs: 10_000 },
      { outcome: 'Failed', durationMs: 40_000 },
      { outcome: 'TimedOut', durationMs: undefined },
      { outcome: 'Canceled', durationMs: 20_000 },
    ]);
    expect(t).toEqual({
      deployments: 4,
      succeeded: 1,
      failed: 2,
      canceled: 1,
      successRate: 0.25,
      medianDurationMs: 20_000,
      longestDurationMs: 40_000,
    });
    expect(totalsOf([]).successRate).toBeUndefined();
  });
});
