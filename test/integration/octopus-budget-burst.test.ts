// The coordinator's own Octopus budget (OCTOPUS_MAX_REQUESTS_PER_MINUTE) against the simulator's 2026.3
// rate limiter set to Octopus's smallest documented policy (200 a minute, burst 200): a burst of 400
// requests (as many webhook confirmations at once, or a large report) goes through with the default
// budget of 180 a minute without one 429; the same burst without a budget gets 429s. The client and the
// simulator share the simulator's clock (the budget's waits advance it), so this takes no real minutes.
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOctopusSimulator, type OctopusSimulator } from '../../dev/octopus-sim/index.js';
import { defaultMaxRequestsPerMinute } from '../../shared/octopus/budget.js';
import { createOctopusClient } from '../../shared/octopus/client.js';
import { OctopusError } from '../../shared/octopus/errors.js';

let sim: OctopusSimulator;
const burst = 400;

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0, idOffset: 0 });
  sim.clock({ action: 'pause' });
});

afterAll(async () => {
  await sim?.stop();
});

async function fire(maxRequestsPerMinute: number): Promise<{ ok: number; refused: number }> {
  let baseline = 0;
  const client = createOctopusClient({
    url: sim.url,
    apiKey: sim.apiKey,
    space: 'Default',
    maxRetries: 0,
    maxRequestsPerMinute,
    now: () => sim.now(),
    // The budget's wait moves the shared clock, once every request it let go has reached the server
    // (as in real time, where they arrive while it waits).
    sleep: async (ms) => {
      const deadline = Date.now() + 5_000;
      while (sim.requests().total < client.calls.total - baseline && Date.now() < deadline)
        await delay(1);
      sim.clock({ action: 'advance', ms });
    },
  });
  const taskId = (await client.tasks.list({ maxItems: 1 })[Symbol.asyncIterator]().next()).value
    ?.Id as string;
  sim.rateLimit({ perMinute: 200, burst: 200 });
  sim.resetRequests();
  baseline = client.calls.total;
  try {
    const results = await Promise.allSettled(
      Array.from({ length: burst }, () => client.tasks.get(taskId)),
    );
    const refused = results.filter(
      (r) => r.status === 'rejected' && r.reason instanceof OctopusError && r.reason.status === 429,
    ).length;
    return { ok: results.filter((r) => r.status === 'fulfilled').length, refused };
  } finally {
    sim.rateLimit({ perMinute: null });
    sim.clock({ action: 'advance', ms: 120_000 });
  }
}

describe('the Octopus request budget against a rate-limited server', () => {
  it('keeps a burst of 400 requests under the server limit with the default budget', async () => {
    expect(defaultMaxRequestsPerMinute).toBeLessThanOrEqual(200);
    const withBudget = await fire(defaultMaxRequestsPerMinute);
    expect(withBudget).toEqual({ ok: burst, refused: 0 });
  });

  it('gets 429s for the same burst without a budget', async () => {
    const without = await fire(0);
    expect(without.refused).toBeGreaterThanOrEqual(burst - 200 - 1);
    expect(without.ok + without.refused).toBe(burst);
  });
});
