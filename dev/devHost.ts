// Everything `npm start` runs: Azurite, the Octopus simulator (unless OCTOPUS_URL is set) and the
// function app on the dev host, with embedded defaults so it works with nothing configured.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { settingDefaults } from '../shared/config/settings.js';
import { createRuntime, setRuntime } from '../shared/runtime/runtime.js';
import { freePort, startAzuriteTable, type AzuriteTable } from './azurite.js';
import { FunctionHost } from './functionHost.js';
import { wireSimulatorToCoordinator } from './wireSimulator.js';

export interface DevHostOptions {
  appRoot: string;
  /** Start the simulator with its live mode (new releases every few minutes). */
  live?: boolean;
  /** Don't fire timers on their schedules (tests fire them through the admin endpoint). */
  timers?: boolean;
  log?: (line: string) => void;
}

export interface SimulatorHandle {
  url: string;
  apiKey: string;
  stop(): Promise<void>;
}

export interface DevHost {
  host: FunctionHost;
  azurite: AzuriteTable | undefined;
  /** Where Azurite keeps its data (DEV_DATA_DIR, else .data/ in the app), when the dev host started it. */
  azuriteDataDir: string | undefined;
  simulator: SimulatorHandle | undefined;
  outboxDir: string | undefined;
  /** The coordination config in use: its file (the example's when there is no coordination.json), or why none. */
  configSource: string;
  stop(): Promise<void>;
}

/** A start failure whose message says what to do; printed without a stack trace. */
export class DevHostStartError extends Error {
  override name = 'DevHostStartError';
}

/** The development webhook secret the dev host uses when none is set (never used in Azure). */
export const devWebhookSecret = 'dev-webhook-secret';

/**
 * The development key that signs approval links when COORDINATOR_APPROVAL_KEY is unset (never used in
 * Azure, where the setting is a Key Vault reference). Fixed, so links survive a restart and two dev
 * hosts on one Azurite accept each other's links.
 */
export const devApprovalKey = 'dev-approval-key-not-secret-0123456789abcdef';

/** Read local.settings.json's Values the way `func start` does (they do not override real env vars). */
function localSettings(appRoot: string): Record<string, string> {
  const path = join(appRoot, 'local.settings.json');
  if (!existsSync(path)) return {};
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as { Values?: Record<string, unknown> };
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed.Values ?? {}))
    if (typeof v === 'string') values[k] = v;
  return values;
}

/**
 * The dev host's defaults for settings left unset. An empty value counts as unset, as in the app's
 * settings: `local.settings.example.json` lists most settings with "" as its value.
 */
export function applyDevDefaults(
  env: NodeJS.ProcessEnv,
  appRoot: string,
  log: (line: string) => void,
): void {
  const unset = (name: string) => (env[name] ?? '').trim() === '';
  if (unset('WEBHOOK_SECRET')) env.WEBHOOK_SECRET = devWebhookSecret;
  if (unset('COORDINATOR_APPROVAL_KEY')) {
    env.COORDINATOR_APPROVAL_KEY = devApprovalKey;
    log(
      'COORDINATOR_APPROVAL_KEY is unset: approval links are signed with the development key (anyone can forge them; set a key of your own outside development).',
    );
  }
  if (unset('DAILY_REPORT_SCHEDULE'))
    env.DAILY_REPORT_SCHEDULE = settingDefaults.DAILY_REPORT_SCHEDULE;
  if (unset('STATUS_POLL_SCHEDULE'))
    env.STATUS_POLL_SCHEDULE = settingDefaults.STATUS_POLL_SCHEDULE;
  if (unset('COORDINATION_CONFIG') && !existsSync(resolve(appRoot, 'coordination.json'))) {
    env.COORDINATION_CONFIG = resolve(appRoot, 'coordination.example.json');
    log('No coordination.json: using coordination.example.json (the sample scenario).');
  }
  if (unset('SENDGRID_API_KEY') && unset('MAIL_OUTBOX_DIR'))
    env.MAIL_OUTBOX_DIR = resolve(appRoot, 'outbox');
}

async function portFree(port: number, host: string): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((r) => {
    const s = createServer();
    s.once('error', () => r(false));
    s.listen(port, host, () => s.close(() => r(true)));
  });
}

type SimulatorModule = {
  startOctopusSimulator(options: {
    port?: number;
    live?: boolean;
    log?: (line: string) => void;
  }): Promise<SimulatorHandle>;
};

async function loadSimulator(): Promise<SimulatorModule | undefined> {
  try {
    return (await import(
      new URL('./octopus-sim/server.js', import.meta.url).href
    )) as SimulatorModule;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw err;
  }
}

export async function startDevHost(options: DevHostOptions): Promise<DevHost> {
  const log = options.log ?? ((line: string) => console.log(line));
  const env = process.env;
  for (const [k, v] of Object.entries(localSettings(options.appRoot))) env[k] ??= v;
  const host = '127.0.0.1';
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };

  try {
    let azurite: AzuriteTable | undefined;
    let azuriteDataDir: string | undefined;
    const devStorage = /^\s*UseDevelopmentStorage=true\s*;?\s*$/i.test(
      env.AzureWebJobsStorage ?? '',
    );
    if (devStorage || (!env.AzureWebJobsStorage && !env.AzureWebJobsStorage__accountName)) {
      const wanted = Number(env.AZURITE_TABLE_PORT ?? 10002);
      const port = (await portFree(wanted, host)) ? wanted : await freePort(host);
      if (port !== wanted) log(`Port ${wanted} is busy; Azurite uses ${port} instead.`);
      azuriteDataDir = resolve(env.DEV_DATA_DIR ?? resolve(options.appRoot, '.data'), 'azurite');
      const wantedQueue = Number(env.AZURITE_QUEUE_PORT ?? 10001);
      const queuePort =
        wantedQueue !== port && (await portFree(wantedQueue, host))
          ? wantedQueue
          : await freePort(host);
      if (queuePort !== wantedQueue)
        log(`Port ${wantedQueue} is busy; Azurite's queue service uses ${queuePort} instead.`);
      azurite = await startAzuriteTable({
        host,
        port,
        location: azuriteDataDir,
        queue: true,
        queuePort,
      });
      stops.push(() => azurite?.stop() ?? Promise.resolve());
      env.AzureWebJobsStorage = azurite.connectionString;
    }

    let simulator: SimulatorHandle | undefined;
    if (!env.OCTOPUS_URL) {
      const sim = await loadSimulator();
      if (sim) {
        const wanted = Number(env.SIMULATOR_PORT ?? 8065);
        const port = (await portFree(wanted, host)) ? wanted : 0;
        if (port !== wanted)
          log(
            `Port ${wanted} is busy; the simulator uses a free port instead (SIMULATOR_PORT sets it).`,
          );
        simulator = await sim.startOctopusSimulator({
          port,
          live: options.live ?? false,
          log: (l) => log(`[octopus-sim] ${l}`),
        });
        stops.push(() => simulator?.stop() ?? Promise.resolve());
        env.OCTOPUS_URL = simulator.url;
        env.OCTOPUS_API_KEY = simulator.apiKey;
      } else {
        log(
          'The Octopus simulator is not built; starting without Octopus (set OCTOPUS_URL to use a real server).',
        );
      }
    }

    applyDevDefaults(env, options.appRoot, log);

    // Validate settings and the coordination config now, so a bad one stops the start with every problem.
    const runtime = await createRuntime();
    setRuntime(runtime);

    const wantedPort = Number(env.PORT ?? settingDefaults.PORT);
    const functionHost = new FunctionHost({
      appRoot: options.appRoot,
      port: wantedPort,
      host,
      env,
      timers: options.timers ?? true,
      // Timer schedule status between starts, as the real host keeps it in blob storage.
      timerStatusFile: resolve(
        env.DEV_DATA_DIR ?? resolve(options.appRoot, '.data'),
        'timer-status.json',
      ),
      log,
      ...(env.FUNCTIONS_KEY ? { functionKey: env.FUNCTIONS_KEY } : {}),
    });
    await functionHost.load();
    try {
      await functionHost.start();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      throw new DevHostStartError(
        `Port ${wantedPort} is busy, so the function app cannot listen on it: another program (or an earlier \`npm start\`) uses it. Stop that program, or set PORT to a free port (PORT=7072 npm start).`,
      );
    }
    stops.push(() => functionHost.stop());

    if (simulator) {
      // As a person would in Octopus: a subscription that posts events to our webhook with the secret header.
      await wireSimulatorToCoordinator({
        simulatorUrl: simulator.url,
        apiKey: simulator.apiKey,
        coordinatorUrl: functionHost.url,
        header: runtime.settings.webhook.header,
        secret: runtime.settings.webhook.secret ?? devWebhookSecret,
        ...(env.FUNCTIONS_KEY ? { functionKey: env.FUNCTIONS_KEY } : {}),
      });
    }

    return {
      host: functionHost,
      azurite,
      azuriteDataDir,
      simulator,
      outboxDir: runtime.mailer.kind === 'outbox' ? env.MAIL_OUTBOX_DIR : undefined,
      configSource: runtime.configSource,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
