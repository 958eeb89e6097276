// `npm start` as a new user runs it: nothing configured, health answers, Ctrl-C leaves nothing behind.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isListening, startDevHostProcess, waitForExit } from '../helpers/devHostProcess.js';

describe('npm start with nothing configured', () => {
  it('answers /api/health with 200, reports its ports, and stops everything on Ctrl-C', async () => {
    const dev = await startDevHostProcess();
    try {
      const health = (await (await fetch(`${dev.url}/api/health`)).json()) as {
        storage: { reachable: boolean; target: string };
        octopus: { configured: boolean; reachable?: boolean };
        mail: { adapter: string };
        config: { source: string; projectSets: number };
      };
      expect(health.storage.reachable).toBe(true);
      expect(health.octopus).toMatchObject({ configured: true, reachable: true });
      expect(health.mail.adapter).toBe('outbox');
      expect(health.config.source).toMatch(/coordination\.example\.json$/);
      expect(health.config.projectSets).toBeGreaterThan(0);
      expect(dev.output()).toContain(`Octopus Coordinator is running at ${dev.url}`);
      expect(dev.output()).toContain(dev.outboxDir);
      // The banner says what it runs: the data folder really used, the flags, and exports for the
      // CLI with the ports really taken (not UseDevelopmentStorage=true, which means port 10002).
      expect(dev.output()).toContain(`data in ${join(dev.dataDir, 'azurite')}`);
      expect(dev.output()).toContain('--live off, --no-timers off');
      expect(dev.output()).toContain(
        `export AzureWebJobsStorage='DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;`,
      );
      expect(dev.output()).toContain(
        `TableEndpoint=http://127.0.0.1:${dev.ports.azurite}/devstoreaccount1`,
      );
      expect(dev.output()).toContain(
        `export OCTOPUS_URL='http://127.0.0.1:${dev.ports.simulator}'`,
      );
      expect(dev.output()).toMatch(/export COORDINATION_CONFIG='.*coordination\.example\.json'/);
      expect(dev.output()).not.toContain('UseDevelopmentStorage');
    } finally {
      const code = await dev.stop();
      expect(code).toBe(0);
    }
    expect(await isListening(dev.ports.app)).toBe(false);
    expect(await isListening(dev.ports.azurite)).toBe(false);
    expect(await isListening(dev.ports.simulator)).toBe(false);
  });

  it('refuses an unknown flag instead of starting without it', async () => {
    const dev = await startDevHostProcess({ waitForHealth: false, args: ['--no-timer'] });
    const code = await waitForExit(dev.child);
    expect(code).toBe(2);
    expect(dev.output()).toContain('Unknown option "--no-timer"');
    expect(dev.output()).toContain('--no-timers');
    expect(await isListening(dev.ports.azurite)).toBe(false);
  });

  it('refuses a bad coordination.json at start with every problem and its JSON path', async () => {
    const dev = await startDevHostProcess({ waitForHealth: false, env: {} });
    await dev.stop();
    const bad = join(dev.dataDir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        projectSets: { s: { projects: ['A'], dependsOn: { A: ['B'] } } },
        promotions: [{ name: 'p', set: 's', from: 'Test', to: 'Prod', cron: 'never' }],
      }),
    );
    const refused = await startDevHostProcess({
      waitForHealth: false,
      env: { COORDINATION_CONFIG: bad },
    });
    const code = await waitForExit(refused.child);
    expect(code).toBe(1);
    expect(refused.output()).toContain('$.promotions[0].cron');
    expect(refused.output()).toContain('$.projectSets.s.dependsOn.A[0]');
    expect(await isListening(refused.ports.azurite)).toBe(false);
  });
});
