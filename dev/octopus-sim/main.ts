// Runs the Octopus simulator standalone: node dist/dev/octopus-sim/main.js [--port N] [--scenario file] [--live]
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { startOctopusSimulator } from './server.js';
import type { Scenario } from './scenario.js';

const program = new Command()
  .name('octopus-sim')
  .description('An Octopus Deploy REST API simulator for tests and demos.')
  .option('--port <port>', 'port to listen on (0 = any free port)', '8065')
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--scenario <file>', 'scenario JSON file (default: the sample scenario)')
  .option('--api-key <key>', 'API key clients must send (default: the simulator key)')
  .option('--live', 'create and deploy new releases every few minutes')
  .option('--live-interval <ms>', 'time between live-mode actions in milliseconds', '180000');

async function main(): Promise<void> {
  program.parse();
  const opts = program.opts<{
    port: string;
    host: string;
    scenario?: string;
    apiKey?: string;
    live?: boolean;
    liveInterval: string;
  }>();
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be a number from 0 to 65535, not "${opts.port}".`);
    process.exit(2);
  }
  let scenario: Scenario | undefined;
  if (opts.scenario) {
    try {
      scenario = JSON.parse(await readFile(opts.scenario, 'utf8')) as Scenario;
    } catch (error) {
      console.error(
        `Could not read the scenario ${opts.scenario}: ${error instanceof Error ? error.message : String(error)}`,
      );
      process.exit(2);
    }
  }
  const sim = await startOctopusSimulator({
    port,
    host: opts.host,
    apiKey: opts.apiKey,
    scenario,
    live: opts.live ? { intervalMs: Number(opts.liveInterval) } : false,
    log: (line) => console.log(line),
  });
  console.log(
    `API key: send X-Octopus-ApiKey with the configured key (default ${sim.apiKey === 'API-SIMULATOR0000000000000000000' ? sim.apiKey : 'set by --api-key'}).`,
  );
  console.log(`Control API: ${sim.url}/_sim/state`);
  const shutdown = (): void => {
    void sim.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  console.error(
    `The Octopus simulator could not start: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(1);
});
