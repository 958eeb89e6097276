// The client's own request budget: a burst passes at once, sustained load is spread to the rate.
import { describe, expect, it } from 'vitest';
import { RequestBudget } from '../../shared/octopus/budget.js';
import { idBatches, MAX_IDS_QUERY_CHARS } from '../../shared/octopus/paging.js';
import { loadSettings } from '../../shared/config/settings.js';

function fakeTime() {
  let now = 0;
  return {
    now: () => now,
    sleep: (ms: number) => {
      now += ms;
      return Promise.resolve();
    },
  };
}

describe('RequestBudget', () => {
  it('lets a burst through, then spaces requests at the rate, in order', async () => {
    const t = fakeTime();
    const budget = new RequestBudget(60, t.sleep, t.now, 3);
    const waits = await Promise.all(Array.from({ length: 6 }, () => budget.take()));
    expect(waits.slice(0, 3)).toEqual([0, 0, 0]);
    // 60 a minute: one a second once the burst is spent.
    expect(t.now()).toBe(3000);
    expect(waits.slice(3).every((w) => w > 0)).toBe(true);
  });

  it('never lets more than burst + rate × time through', async () => {
    const t = fakeTime();
    const budget = new RequestBudget(180, t.sleep, t.now);
    for (let i = 0; i < 540; i++) await budget.take();
    // 540 requests: 180 at once, 360 more at 3 a second = 120 s.
    expect(t.now()).toBeGreaterThanOrEqual(119_000);
    expect(t.now()).toBeLessThanOrEqual(121_000);
  });

  it('is off for 0', async () => {
    const t = fakeTime();
    const budget = new RequestBudget(0, t.sleep, t.now);
    for (let i = 0; i < 1000; i++) await budget.take();
    expect(t.now()).toBe(0);
  });

  it('is read from OCTOPUS_MAX_REQUESTS_PER_MINUTE, default 180', () => {
    const base = { OCTOPUS_URL: 'https://octopus.example.com', OCTOPUS_API_KEY: 'API-X' };
    expect(loadSettings(base).octopus?.maxRequestsPerMinute).toBe(180);
    expect(
      loadSettings({ ...base, OCTOPUS_MAX_REQUESTS_PER_MINUTE: '600' }).octopus
        ?.maxRequestsPerMinute,
    ).toBe(600);
    expect(() => loadSettings({ ...base, OCTOPUS_MAX_REQUESTS_PER_MINUTE: 'lots' })).toThrow(
      /OCTOPUS_MAX_REQUESTS_PER_MINUTE/,
    );
  });
});

describe('id batches', () => {
  it('keep each ids= value under the request-line budget, and at most the batch size', () => {
    const long = Array.from({ length: 1000 }, (_, i) => `Deployments-${10_000_000_000 + i}`);
    const batches = idBatches(long, 100);
    expect(batches.flat()).toEqual(long);
    for (const b of batches) {
      expect(b.length).toBeLessThanOrEqual(100);
      expect(b.map(encodeURIComponent).join(',').length).toBeLessThanOrEqual(MAX_IDS_QUERY_CHARS);
    }
    const wide = Array.from({ length: 50 }, (_, i) => `Releases-${'9'.repeat(300)}${i}`);
    for (const b of idBatches(wide, 100))
      expect(b.join(',').length).toBeLessThanOrEqual(MAX_IDS_QUERY_CHARS);
  });
});
