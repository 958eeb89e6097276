// `npm start`: run the coordinator locally with embedded defaults. Ctrl-C stops everything it started.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoordinationConfigError } from '../shared/config/loadCoordinationConfig.js';
import { SettingsError } from '../shared/config/settings.js';
import { staleBundle } from './bundle.js';
import { DevHostStartError, startDevHost } from './devHost.js';
import { cliExports, parseStartArgs, startUsage, type StartFlags } from './startArgs.js';

const appRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
let flags: StartFlags;
try {
  flags = parseStartArgs(process.argv.slice(2));
} catch (err) {
  console.error(`${(err as Error).message}\n\n${startUsage}`);
  process.exit(2);
}
if (flags.help) {
  console.log(startUsage);
  process.exit(0);
}

const stale = staleBundle(appRoot);
if (stale)
  console.warn(
    `warning: ${stale} is newer than the bundle the app runs from (dist/app): run \`npm run build\` (npm start does), or the app runs older code`,
  );

try {
  const dev = await startDevHost({
    appRoot,
    live: flags.live,
    timers: flags.timers,
  });
  const { host } = dev;
  const lines = [
    '',
    `Octopus Coordinator is running at ${host.url}`,
    `  health:     ${host.url}/api/health`,
    `  status page: ${host.url}/api/ui`,
    `  storage:    ${dev.azurite ? `Azurite table service on ${dev.azurite.host}:${dev.azurite.port}, queue service on port ${dev.azurite.queuePort ?? '?'}, data in ${dev.azuriteDataDir ?? '?'}` : 'from AzureWebJobsStorage'}`,
    `  octopus:    ${dev.simulator ? `simulator at ${dev.simulator.url} (sample scenario${flags.live ? ', live: new releases every few minutes' : ''})` : (process.env.OCTOPUS_URL ?? 'not configured')}`,
    `  mail:       ${dev.outboxDir ? `outbox folder ${dev.outboxDir}` : 'SendGrid'}`,
    `  config:     ${dev.configSource}`,
    `  flags:      --live ${flags.live ? 'on' : 'off'}, --no-timers ${flags.timers ? 'off (timers fire on their schedules)' : 'on (timers fire only when asked)'}`,
    '',
    'For the CLI (npm run coordinator -- …) against this dev host, in another shell:',
    ...cliExports({
      AzureWebJobsStorage: dev.azurite?.connectionString,
      OCTOPUS_URL: process.env.OCTOPUS_URL,
      OCTOPUS_API_KEY: dev.simulator?.apiKey,
      COORDINATION_CONFIG: dev.configSource.startsWith('none') ? undefined : dev.configSource,
      MAIL_OUTBOX_DIR: dev.outboxDir,
    }).map((line) => `  ${line}`),
    '',
    'HTTP functions:',
    ...[...host.http]
      .sort((a, b) => a.route.localeCompare(b.route))
      .map((f) => `  ${f.methods.join(',').padEnd(10)} ${host.url}${f.route}`),
    'Queue functions:',
    ...host.queues.map((q) => `  ${q.name.padEnd(20)} queue ${q.queueName}`),
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
