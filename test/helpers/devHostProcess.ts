// Start the dev host as a user would (`node dist/dev/start.js`, what `npm start` runs after building).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../../dev/azurite.js';

export interface DevHostProcess {
  url: string;
  ports: { app: number; azurite: number; azuriteQueue: number; simulator: number };
  dataDir: string;
  outboxDir: string;
  child: ChildProcess;
  output(): string;
  /** Ctrl-C, then wait for the process to exit; resolves to its exit code. */
  stop(): Promise<number | null>;
}

/** Env of the test process minus what the test setup added, so the dev host starts from nothing. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of [
    'AzureWebJobsStorage',
    'OCTOPUS_URL',
    'OCTOPUS_API_KEY',
    'SENDGRID_API_KEY',
    'COORDINATION_CONFIG',
    'WEBHOOK_SECRET',
  ]) {
    delete env[key];
  }
  return { ...env, ...extra };
}

/** Ports this process has given a dev host: the system may offer a port again once it is closed. */
const given = new Set<number>();

/** A free port not given to a dev host of this process before (two hosts' ports, or one's two). */
async function unusedPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (!given.has(port)) {
      given.add(port);
      return port;
    }
  }
}

export async function startDevHostProcess(
  options: { env?: Record<string, string>; args?: string[]; waitForHealth?: boolean } = {},
): Promise<DevHostProcess> {
  // Every port chosen here: dev hosts started together must not race for the defaults (10001, 10002…).
  const ports = {
    app: await unusedPort(),
    azurite: await unusedPort(),
    azuriteQueue: await unusedPort(),
    simulator: await unusedPort(),
  };
  const dataDir = mkdtempSync(join(tmpdir(), 'coordinator-data-'));
  const outboxDir = join(dataDir, 'outbox');
  const child = spawn(process.execPath, [resolve('dist/dev/start.js'), ...(options.args ?? [])], {
    env: cleanEnv({
      PORT: String(ports.app),
      AZURITE_TABLE_PORT: String(ports.azurite),
      AZURITE_QUEUE_PORT: String(ports.azuriteQueue),
      SIMULATOR_PORT: String(ports.simulator),
      DEV_DATA_DIR: dataDir,
      MAIL_OUTBOX_DIR: outboxDir,
      ...options.env,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${ports.app}`;
  const handle: DevHostProcess = {
    url,
    ports,
    dataDir,
    outboxDir,
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      return exited;
    },
  };
  if (options.waitForHealth ?? true) {
    // Azurite alone may take up to 120 s to start on a loaded machine (dev/azurite.ts).
    const deadline = Date.now() + 150_000;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`dev host exited with ${child.exitCode}:\n${output}`);
      try {
        const res = await fetch(`${url}/api/health`);
        if (res.status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await handle.stop();
        throw new Error(`dev host did not answer /api/health with 200 within 60 s:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return handle;
}

export async function isListening(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((r) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      r(true);
    });
    socket.once('error', () => r(false));
  });
}

export function waitForExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}
