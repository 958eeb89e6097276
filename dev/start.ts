// `npm start`: run the coordinator locally with embedded defaults. Ctrl-C stops everything it started.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoordinationConfigError } from '../shared/config/loadCoordinationConfig.js';
import { SettingsError } from '../shared/config/settings.js';
import { DevHostStartError, startDevHost } from './devHost.js';

const appRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const args = new Set(process.argv.slice(2));
if (args.has('--help')) {
  console.log(`Usage: npm start [-- --live] [-- --no-timers]

Starts Azurite (table storage), the Octopus simulator (unless OCTOPUS_URL is set) and the
coordinator's functions on http://127.0.0.1:$PORT (default 7071).
  --live        the simulator creates and deploys new releases every few minutes
  --no-timers   don't fire timers on their schedules (run one with POST /admin/functions/<name>)`);
  process.exit(0);
}

try {
  const dev = await startDevHost({
    appRoot,
    live: args.has('--live'),
    timers: !args.has('--no-timers'),
  });
  const { host } = dev;
  const lines = [
    '',
    `Octopus Coordinator is running at ${host.url}`,
    `  health:     ${host.url}/api/health`,
    `  status page: ${host.url}/api/ui`,
    `  storage:    ${dev.azurite ? `Azurite table service on ${dev.azurite.host}:${dev.azurite.port} (data in .data/azurite)` : 'from AzureWebJobsStorage'}`,
    `  octopus:    ${dev.simulator ? `simulator at ${dev.simulator.url} (sample scenario)` : (process.env.OCTOPUS_URL ?? 'not configured')}`,
    `  mail:       ${dev.outboxDir ? `outbox folder ${dev.outboxDir}` : 'SendGrid'}`,
    '',
    'HTTP functions:',
    ...[...host.http]
      .sort((a, b) => a.route.localeCompare(b.route))
      .map((f) => `  ${f.methods.join(',').padEnd(10)} ${host.url}${f.route}`),
    'Timer functions (UTC):',
    ...host.timers.map(
      (t) =>
        `  ${t.name.padEnd(20)} ${t.schedule}   run now: curl -X POST ${host.url}/admin/functions/${t.name}`,
    ),
    '',
    'Press Ctrl-C to stop.',
  ];
  console.log(lines.join('\n'));
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    dev.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
} catch (err) {
  if (
    err instanceof CoordinationConfigError ||
    err instanceof SettingsError ||
    err instanceof DevHostStartError
  ) {
    console.error(err.message);
  } else {
    console.error(`The dev host could not start: ${(err as Error).stack ?? String(err)}`);
  }
  process.exit(1);
}
