// Start Azurite's table service as a child process (the local stand-in for Azure Table Storage).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';

/** Azurite's well-known development account (public, documented; not a secret). */
export const devAccountName = 'devstoreaccount1';
export const devAccountKey =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export function azuriteConnectionString(host: string, port: number): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${devAccountName};AccountKey=${devAccountKey};` +
    `TableEndpoint=http://${host}:${port}/${devAccountName};`
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
  /** Stop with SIGINT, so Azurite saves its last writes (SIGTERM loses up to 5 s of them). */
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  port?: number;
  host?: string;
  /** Folder for data; omit for in-memory. */
  location?: string;
  log?: (line: string) => void;
}

/** How long Azurite may take to say it started before it is killed. */
const startTimeoutMs = 120_000;

export async function startAzuriteTable(options: AzuriteOptions = {}): Promise<AzuriteTable> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port || (await freePort(host));
  const require = createRequire(import.meta.url);
  const main = join(dirname(require.resolve('azurite/package.json')), 'dist/src/table/main.js');
  const args = [
    main,
    '--tableHost',
    host,
    '--tablePort',
    String(port),
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--loose',
  ];
  if (options.location) {
    mkdirSync(options.location, { recursive: true });
    args.push('--location', options.location);
  } else {
    args.push('--inMemoryPersistence');
  }
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const started = new Promise<void>((resolveStart, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('successfully started')) resolveStart();
      if (/EADDRINUSE|Error:/i.test(output))
        reject(new Error(`Azurite did not start on ${host}:${port}:\n${output.trim()}`));
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`Azurite exited with code ${code}:\n${output.trim()}`)),
    );
  });
  // Generous: on a loaded 2-core machine (several test runs at once) Azurite alone has taken over
  // 30 s to load; killing it then failed every dev host and e2e test with "exited with code null".
  const timeout = setTimeout(() => child.kill('SIGKILL'), startTimeoutMs);
  try {
    await started;
  } finally {
    clearTimeout(timeout);
  }
  child.stdout?.removeAllListeners('data');
  child.stderr?.removeAllListeners('data');
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    connectionString: azuriteConnectionString(host, port),
    host,
    port,
    process: child,
    stop: () =>
      new Promise<void>((resolveStop) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolveStop();
        const killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(killTimer);
          resolveStop();
        });
        child.kill('SIGINT');
      }),
  };
}
