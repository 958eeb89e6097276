// Two coordinator instances as e2e tests start them: two dev hosts (`node dist/dev/start.js`) on the
// first one's Azurite (as two Function App instances share one storage account), both on the Octopus
// simulator with one coordination config, polling every second; and waiting on them with the first
// host's output in the error.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { azuriteConnectionString } from '../../dev/azurite.js';
import type { OctopusSimulator } from '../../dev/octopus-sim/index.js';
import { startDevHostProcess, type DevHostProcess } from './devHostProcess.js';

export class DevHostPair {
  hosts: DevHostProcess[] = [];
  /** The connection string of the Azurite both hosts use. */
  storage = '';

  /**
   * Start both hosts with `config` written to a temporary coordination.json (its folder named after
   * `name`), the status poll every second, the daily report far away, and `env` on top.
   */
  async start(options: {
    name: string;
    sim: OctopusSimulator;
    config: unknown;
    env?: Record<string, string>;
  }): Promise<void> {
    const path = join(mkdtempSync(join(tmpdir(), `${options.name}-`)), 'coordination.json');
    writeFileSync(path, JSON.stringify(options.config));
    const env: Record<string, string> = {
      OCTOPUS_URL: options.sim.url,
      OCTOPUS_API_KEY: options.sim.apiKey,
      COORDINATION_CONFIG: path,
      STATUS_POLL_SCHEDULE: '*/1 * * * * *',
      DAILY_REPORT_SCHEDULE: '0 0 0 1 1 *',
      ...options.env,
    };
    const first = await startDevHostProcess({ env });
    this.hosts.push(first);
    this.storage = azuriteConnectionString('127.0.0.1', first.ports.azurite);
    this.hosts.push(
      await startDevHostProcess({ env: { ...env, AzureWebJobsStorage: this.storage } }),
    );
  }

  /** The second host first: it uses the first one's Azurite. */
  async stop(): Promise<void> {
    for (const h of [...this.hosts].reverse()) await h.stop();
    this.hosts = [];
  }

  readonly host = (i: number): DevHostProcess => {
    const h = this.hosts[i];
    if (!h) throw new Error(`no host ${i}`);
    return h;
  };

  /** Read every 250 ms until `read` gives a value; after `ms`, fail with the end of host 0's output. */
  readonly until = async <T>(
    what: string,
    read: () => Promise<T | undefined>,
    ms = 120_000,
  ): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await read();
      if (value !== undefined) return value;
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}\n${this.host(0).output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
}
