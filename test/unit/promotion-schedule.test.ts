// Pure parts of scheduled promotion: slots in the promotion's zone across DST, the catch-up split, stages, freezes.
import { describe, expect, it } from 'vitest';
import { coordinationConfigSchema } from '../../shared/config/coordination/schema.js';
import { activeFreeze } from '../../shared/promotion/freeze.js';
import { promotionRunId } from '../../shared/promotion/runPlan.js';
import { cronSlots, slotKey, sortSlots } from '../../shared/promotion/slots.js';
import { DependencyCycleError, dependencyStages } from '../../shared/promotion/stages.js';
import { localToInstant } from '../../shared/promotion/zonedTime.js';

const keys = (slots: Date[]) => slots.map(slotKey);

describe('promotion slots in the promotion time zone', () => {
  it('keeps 18:00 local across the spring change (18:00Z before, 17:00Z after in London)', () => {
    const slots = cronSlots(
      '0 0 18 * * *',
      'Europe/London',
      new Date('2026-03-27T12:00:00Z'),
      new Date('2026-03-31T00:00:00Z'),
    );
    expect(keys(slots)).toEqual([
      '2026-03-27T18:00Z',
      '2026-03-28T18:00Z',
      '2026-03-29T17:00Z',
      '2026-03-30T17:00Z',
    ]);
  });

  it('keeps 18:00 local across the autumn change in Berlin (16:00Z in summer time, 17:00Z after)', () => {
    const slots = cronSlots(
      '0 0 18 * * *',
      'Europe/Berlin',
      new Date('2026-10-24T00:00:00Z'),
      new Date('2026-10-26T23:00:00Z'),
    );
    expect(keys(slots)).toEqual(['2026-10-24T16:00Z', '2026-10-25T17:00Z', '2026-10-26T17:00Z']);
  });

  it('runs a slot in the repeated autumn hour once, not twice', () => {
    const slots = cronSlots(
      '0 30 1 * * *',
      'Europe/London',
      new Date('2026-10-24T12:00:00Z'),
      new Date('2026-10-25T12:00:00Z'),
    );
    expect(keys(slots)).toEqual(['2026-10-25T00:30Z']);
  });

  it('still runs a slot whose local time falls in the skipped spring hour, once, after the gap', () => {
    const slots = cronSlots(
      '0 30 1 * * *',
      'Europe/London',
      new Date('2026-03-28T12:00:00Z'),
      new Date('2026-03-29T12:00:00Z'),
    );
    expect(slots).toHaveLength(1);
  });

  it('follows NCRONTAB: day-of-month AND day-of-week must both match', () => {
    // The 13th that is a Friday, only.
    const slots = cronSlots(
      '0 0 9 13 * Fri',
      'UTC',
      new Date('2026-01-01T00:00:00Z'),
      new Date('2026-12-31T00:00:00Z'),
    );
    expect(keys(slots)).toEqual(['2026-02-13T09:00Z', '2026-03-13T09:00Z', '2026-11-13T09:00Z']);
  });

  it('splits slots at the catch-up window: inside runs, older is missed', () => {
    const now = new Date('2026-11-20T19:30:00Z');
    const slots = [
      new Date('2026-11-20T18:00:00Z'),
      new Date('2026-11-20T18:45:00Z'),
      new Date('2026-11-20T19:30:00Z'),
    ];
    const { due, missed } = sortSlots(slots, now, 60);
    expect(keys(due)).toEqual(['2026-11-20T18:45Z', '2026-11-20T19:30Z']);
    expect(keys(missed)).toEqual(['2026-11-20T18:00Z']);
  });

  it('gives the same run id to the same slot, and ids the engine marker accepts', () => {
    const id = promotionRunId('nightly web', '2026-11-20T18:00Z');
    expect(id).toBe(promotionRunId('nightly web', '2026-11-20T18:00Z'));
    expect(id).toMatch(/^\S+$/);
  });
});

describe('dependency stages', () => {
  it('orders projects stage by stage by their dependencies', () => {
    expect(
      dependencyStages(['Web App', 'Web API', 'Database', 'Docs'], {
        'Web App': ['Web API'],
        'Web API': ['Database'],
      }),
    ).toEqual([['Database', 'Docs'], ['Web API'], ['Web App']]);
  });

  it('refuses a cycle and names it', () => {
    expect(() => dependencyStages(['A', 'B', 'C'], { A: ['B'], B: ['C'], C: ['A'] })).toThrow(
      DependencyCycleError,
    );
    expect(() => dependencyStages(['A', 'B', 'C'], { A: ['B'], B: ['C'], C: ['A'] })).toThrow(
      /A -> B -> C -> A/,
    );
  });

  it('refuses a config whose set has a cycle, naming the cycle at its path', () => {
    const result = coordinationConfigSchema.safeParse({
      projectSets: { s: { projects: ['A', 'B'], dependsOn: { A: ['B'], B: ['A'] } } },
      promotions: [{ name: 'p', set: 's', from: 'Test', to: 'Production', cron: '0 0 18 * * *' }],
    });
    expect(result.success).toBe(false);
    const issue = result.error?.issues.find((i) => i.path.join('.') === 'projectSets.s.dependsOn');
    expect(issue?.message).toMatch(/cycle: A -> B -> A/);
  });
});

describe('freeze windows', () => {
  it('reads local times in the window zone, across DST', () => {
    expect(localToInstant('2026-07-01T18:00', 'Europe/Berlin').toISOString()).toBe(
      '2026-07-01T16:00:00.000Z',
    );
    expect(localToInstant('2026-12-24', 'Europe/Berlin').toISOString()).toBe(
      '2026-12-23T23:00:00.000Z',
    );
    expect(localToInstant('2026-10-25T02:30', 'Europe/Berlin').toISOString()).toBe(
      '2026-10-25T00:30:00.000Z',
    );
  });

  it('is in force from its start (inclusive) to its end (exclusive)', () => {
    const windows = [
      {
        start: '2026-12-24T00:00',
        end: '2026-12-27T00:00',
        timeZone: 'Europe/London',
        reason: 'Christmas',
      },
    ];
    expect(activeFreeze(windows, new Date('2026-12-23T23:59:59Z'))).toBeUndefined();
    expect(activeFreeze(windows, new Date('2026-12-24T00:00:00Z'))?.reason).toBe('Christmas');
    expect(activeFreeze(windows, new Date('2026-12-27T00:00:00Z'))).toBeUndefined();
  });
});
