// Start Azurite's table service (and, when asked, its queue service) as child processes: the local
// stand-ins for Azure Table Storage and Queue Storage.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';

/** Azurite's well-known development account (public, documented; not a secret). */
export const devAccountName = 'devstoreaccount1';
export const devAccountKey =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export function azuriteConnectionString(host: string, port: number, queuePort?: number): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${devAccountName};AccountKey=${devAccountKey};` +
    `TableEndpoint=http://${host}:${port}/${devAccountName};` +
    (queuePort ? `QueueEndpoint=http://${host}:${queuePort}/${devAccountName};` : '')
  );
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

export interface AzuriteTable {
  connectionString: string;
  host: string;
  port: number;
  process: ChildProcess;
  /** The queue service's port and process, when started (`queue: true`). */
  queuePort?: number;
  queueProcess?: ChildProcess;
  /** Stop with SIGINT, so Azurite saves its last writes (SIGTERM loses up to 5 s of them). */
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  port?: number;
  host?: string;
  /** Folder for data; omit for in-memory. */
  location?: string;
  /** Start the queue service too (queue triggers and the events queue need it). */
  queue?: boolean;
  /** Port of the queue service (a free one when omitted). */
  queuePort?: number;
  log?: (line: string) => void;
}

/** Azurite starts in 1–2 s on a quiet machine; a loaded 2-core CI box has needed over 30 s. */
const START_TIMEOUT_MS = 120_000;

export async function startAzuriteTable(options: AzuriteOptions = {}): Promise<AzuriteTable> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port || (await freePort(host));
  const table = await startService('table', host, port, options.location);
  let queue: { child: ChildProcess; port: number } | undefined;
  if (options.queue) {
    const queuePort = options.queuePort || (await freePort(host));
    try {
      queue = {
        child: await startService('queue', host, queuePort, options.location),
        port: queuePort,
      };
    } catch (err) {
      await stopChild(table);
      throw err;
    }
  }
  return {
    connectionString: azuriteConnectionString(host, port, queue?.port),
    host,
    port,
    process: table,
    ...(queue ? { queuePort: queue.port, queueProcess: queue.child } : {}),
    stop: async () => {
      await Promise.all([stopChild(table), queue ? stopChild(queue.child) : Promise.resolve()]);
    },
  };
}

/** Stop with SIGINT, so Azurite saves its last writes (SIGTERM loses up to 5 s of them). */
function stopChild(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolveStop) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolveStop();
    const killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(killTimer);
      resolveStop();
    });
    child.kill('SIGINT');
  });
}

async function startService(
  service: 'table' | 'queue',
  host: string,
  port: number,
  location: string | undefined,
): Promise<ChildProcess> {
  const require = createRequire(import.meta.url);
  const main = join(
    dirname(require.resolve('azurite/package.json')),
    `dist/src/${service}/main.js`,
  );
  const args = [
    main,
    `--${service}Host`,
    host,
    `--${service}Port`,
    String(port),
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--loose',
  ];
  if (location) {
    mkdirSync(location, { recursive: true });
    args.push('--location', location);
  } else {
    args.push('--inMemoryPersistence');
  }
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let timedOut = false;
  const started = new Promise<void>((resolveStart, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/successfully (started|listens)/.test(output)) resolveStart();
      if (/EADDRINUSE|Error:/i.test(output))
        reject(
          new Error(`Azurite (${service}) did not start on ${host}:${port}:\n${output.trim()}`),
        );
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) =>
      reject(
        new Error(
          timedOut
            ? `Azurite (${service}) did not start within ${START_TIMEOUT_MS / 1000} s on ${host}:${port} (a busy machine, or a full disk):\n${output.trim()}`
            : `Azurite (${service}) exited with ${code ?? signal}:\n${output.trim()}`,
        ),
      ),
    );
  });
  const timeout = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, START_TIMEOUT_MS);
  try {
    await started;
  } finally {
    clearTimeout(timeout);
  }
  child.stdout?.removeAllListeners('data');
  child.stderr?.removeAllListeners('data');
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}
