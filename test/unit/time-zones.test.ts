import { describe, expect, it } from 'vitest';
import {
  addDays,
  instantOfLocal,
  isTimeZone,
  localDateOf,
  localTimeOf,
} from '../../shared/time/zones.js';

describe('wall-clock time in IANA zones', () => {
  it('converts both ways on an ordinary day', () => {
    const t = instantOfLocal('2026-11-20', '07:00', 'Europe/Berlin');
    expect(t.toISOString()).toBe('2026-11-20T06:00:00.000Z');
    expect(localDateOf(t, 'America/Los_Angeles')).toBe('2026-11-19');
    expect(localTimeOf(t, 'Asia/Kolkata')).toBe('11:30');
    expect(instantOfLocal('2026-06-01', '18:00:30', 'Europe/London').toISOString()).toBe(
      '2026-06-01T17:00:30.000Z',
    );
  });

  it('maps a time skipped in spring to just after the gap, and a repeated autumn time to its first', () => {
    expect(instantOfLocal('2026-03-29', '02:30', 'Europe/Berlin').toISOString()).toBe(
      '2026-03-29T01:30:00.000Z',
    );
    expect(
      localTimeOf(instantOfLocal('2026-03-29', '02:30', 'Europe/Berlin'), 'Europe/Berlin'),
    ).toBe('03:30');
    expect(instantOfLocal('2026-10-25', '02:30', 'Europe/Berlin').toISOString()).toBe(
      '2026-10-25T00:30:00.000Z',
    );
  });

  it('knows zone names and steps calendar days', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
    expect(addDays('2026-02-28', 1)).toBe('2026-03-01');
    expect(addDays('2026-01-01', -1)).toBe('2025-12-31');
  });

  it('accepts exactly the zone names Intl.DateTimeFormat accepts (the fast path changes no answer)', () => {
    const accepted = (zone: string): boolean => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: zone });
        return true;
      } catch {
        return false;
      }
    };
    const names = [
      'UTC',
      'utc',
      'Etc/UTC',
      'GMT',
      'Europe/Berlin',
      'europe/berlin',
      'Asia/Kolkata',
      'Asia/Calcutta',
      'US/Eastern',
      'America/Argentina/Buenos_Aires',
      '+01:00',
      'Mars/Olympus',
      'Europe/Berlin ',
      '',
      ...Intl.supportedValuesOf('timeZone'),
    ];
    for (const name of names) expect([name, isTimeZone(name)]).toEqual([name, accepted(name)]);
  });
});
