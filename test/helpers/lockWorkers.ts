// Spawn lock clients as separate OS processes (test/fixtures/lockWorker.mjs, on the compiled dist/).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { azuriteConnectionString } from './storage.js';

const workerScript = resolve('test/fixtures/lockWorker.mjs');

export function assertBuilt(): void {
  if (!existsSync(resolve('dist/shared/locks/leaseLock.js'))) {
    throw new Error(
      'dist/ is missing the lock module: run `npx tsc -p tsconfig.json` (npm test does) before these tests.',
    );
  }
}

export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves with the first stdout line. */
  firstLine: Promise<string>;
  /** Resolves with all stdout lines when the process exits with 0; rejects otherwise. */
  done: Promise<string[]>;
}

export function startLockWorker(
  options: Record<string, unknown>,
  tablePrefix: string,
): WorkerProcess {
  const child = spawn(
    process.execPath,
    [
      workerScript,
      JSON.stringify({ connectionString: azuriteConnectionString(), tablePrefix, ...options }),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  let resolveFirst: (line: string) => void = () => undefined;
  const firstLine = new Promise<string>((r) => (resolveFirst = r));
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
    const newline = out.indexOf('\n');
    if (newline >= 0) resolveFirst(out.slice(0, newline));
  });
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const done = new Promise<string[]>((resolveDone, reject) => {
    child.once('exit', (code, signal) => {
      if (code === 0) resolveDone(out.split('\n').filter((l) => l.trim() !== ''));
      else reject(new Error(`lock worker exited with ${code ?? signal}:\n${err}`));
    });
  });
  done.catch(() => undefined);
  return { child, firstLine, done };
}
