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

/** One host's own arguments and env, on top of what the pair gives every host. */
export interface PairHostOptions {
  args?: string[];
  env?: Record<string, string>;
}

function writeConfig(name: string, config: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), `${name}-`)), 'coordination.json');
  writeFileSync(path, JSON.stringify(config));
  return path;
}

export class DevHostPair {
  hosts: DevHostProcess[] = [];
  /** The connection string of the Azurite both hosts use. */
  storage = '';
  /** What every host of the pair starts with (the second and later ones also get `storage`). */
  private env: Record<string, string> = {};

  /**
   * Start both hosts with `config` written to a temporary coordination.json (its folder named after
   * `name`), on `sim`, the status poll every second, the daily report far away, and `env` on top;
   * `first` and `second` add a host's own arguments and env (second: false starts the first only).
   * Without `config` or `sim`, a host has no coordination config or starts its own simulator.
   */
  async start(options: {
    name: string;
    sim?: OctopusSimulator;
    config?: unknown;
    env?: Record<string, string>;
    first?: PairHostOptions;
    second?: PairHostOptions | false;
  }): Promise<void> {
    this.env = {
      ...(options.sim ? { OCTOPUS_URL: options.sim.url, OCTOPUS_API_KEY: options.sim.apiKey } : {}),
      ...(options.config === undefined
        ? {}
        : { COORDINATION_CONFIG: writeConfig(options.name, options.config) }),
      STATUS_POLL_SCHEDULE: '*/1 * * * * *',
      DAILY_REPORT_SCHEDULE: '0 0 0 1 1 *',
      ...options.env,
    };
    const first = await startDevHostProcess({
      args: options.first?.args,
      env: { ...this.env, ...options.first?.env },
    });
    this.hosts.push(first);
    this.storage = azuriteConnectionString('127.0.0.1', first.ports.azurite);
    if (options.second !== false) await this.addHost(options.second);
  }

  /** One more host on the first one's Azurite (the pair's env, then `options` on top). */
  async addHost(options: PairHostOptions = {}): Promise<DevHostProcess> {
    const host = await startDevHostProcess({
      args: options.args,
      env: { ...this.env, AzureWebJobsStorage: this.storage, ...options.env },
    });
    this.hosts.push(host);
    return host;
  }

  /** The later hosts first: they use the first one's Azurite. */
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
