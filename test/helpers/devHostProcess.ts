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

/** The ports the banner says the dev host really took (`npm start` falls back when one is busy). */
function portsInBanner(output: string): {
  app?: number;
  azurite?: number;
  queue?: number;
  sim?: number;
} {
  const num = (re: RegExp) => {
    const m = re.exec(output);
    return m ? Number(m[1]) : undefined;
  };
  return {
    app: num(/is running at http:\/\/[^:\s]+:(\d+)/),
    azurite: num(/Azurite table service on [^:\s]+:(\d+)/),
    queue: num(/queue service on port (\d+)/),
    sim: num(/octopus:\s+simulator at http:\/\/[^:\s]+:(\d+)/),
  };
}

export async function startDevHostProcess(
  options: { env?: Record<string, string>; args?: string[]; waitForHealth?: boolean } = {},
): Promise<DevHostProcess> {
  // Ports are chosen here and checked free, but another test process may take one before the dev host
  // binds it: the dev host then exits (its app port) or falls back to another port (Azurite, the
  // simulator), and a test would talk to somebody else's app, storage or simulator. So the banner is
  // read for the ports really taken, and a start that did not get every chosen port is tried again.
  for (let attempt = 1; ; attempt++) {
    const started = await startOnce(options);
    if (!(options.waitForHealth ?? true)) return started.handle;
    if (started.ok) return started.handle;
    await started.handle.stop();
    if (attempt >= 3)
      throw new Error(
        `dev host did not get its ports in ${attempt} attempts (${started.why}):\n${started.handle.output()}`,
      );
  }
}

async function startOnce(options: {
  env?: Record<string, string>;
  args?: string[];
  waitForHealth?: boolean;
}): Promise<{ handle: DevHostProcess; ok: boolean; why?: string }> {
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
  if (!(options.waitForHealth ?? true)) return { handle, ok: true };
  // Azurite alone may take up to 120 s to start on a loaded machine (dev/azurite.ts).
  const deadline = Date.now() + 150_000;
  // The banner first (printed once the app listens): it names the ports this child really took.
  for (;;) {
    if (child.exitCode !== null) {
      if (/is busy/.test(output)) return { handle, ok: false, why: 'a chosen port was taken' };
      throw new Error(`dev host exited with ${child.exitCode}:\n${output}`);
    }
    if (output.includes('Press Ctrl-C to stop.')) break;
    if (Date.now() > deadline) {
      await handle.stop();
      throw new Error(`dev host did not print its banner within 150 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const taken = portsInBanner(output);
  const simulatorStarted = /octopus:\s+simulator at/.test(output);
  if (
    taken.app !== ports.app ||
    (taken.azurite !== undefined && taken.azurite !== ports.azurite) ||
    (taken.queue !== undefined && taken.queue !== ports.azuriteQueue) ||
    (simulatorStarted && taken.sim !== ports.simulator)
  )
    return {
      handle,
      ok: false,
      why: `chose ${JSON.stringify(ports)}, took ${JSON.stringify(taken)}`,
    };
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
      throw new Error(`dev host did not answer /api/health with 200 within 150 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { handle, ok: true };
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
