// The deployment package (`npm run package`) is unpacked into an empty folder with no node_modules
// reachable and the package.json `main` (the bundle, dev/bundle.ts) is loaded in a fresh Node process, the
// way the Functions worker loads the app, with only `@azure/functions-core` supplied by the host (as the
// worker supplies it). Every module the app loads must come from the bundle: a dependency left outside
// it, a dev-only import or a file left out of the package fails here, not in Azure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPackage, type PackageResult } from '../../dev/package.js';
import { extractZip } from '../../dev/zip.js';
import { loadRegistrations } from '../helpers/registrations.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// Loaded in the child process. Plain CommonJS, nothing from the repository.
const loader = `
const Module = require('node:module');
const { readFileSync, readdirSync, existsSync } = require('node:fs');
const { join, dirname } = require('node:path');
const { pathToFileURL } = require('node:url');
const appRoot = process.cwd();
const registered = [];
let current = '';
const perFile = {};
let model;
const core = {
  version: '3.10.1',
  hostVersion: '4.1037.0.0',
  registerFunction(metadata) {
    registered.push(metadata.name);
    perFile[current] = (perFile[current] || 0) + 1;
    return { dispose() {} };
  },
  setProgrammingModel(m) { model = m; },
  getProgrammingModel() { return model; },
  registerHook() { return { dispose() {} }; },
  log() {},
  Disposable: class { static from() { return { dispose() {} }; } },
};
// As the worker serves it (setupCoreModule.ts): a Proxy on Module.prototype.require answering this one
// name, and nothing else; every other bare require resolved outside the bundle is recorded.
const outside = [];
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (!Module.isBuiltin(request)) outside.push(request);
  return resolve.call(this, request, ...rest);
};
Module.prototype.require = new Proxy(Module.prototype.require, {
  apply(target, thisArg, args) {
    if (args[0] === '@azure/functions-core') return core;
    return Reflect.apply(target, thisArg, args);
  },
});

(async () => {
  const main = JSON.parse(readFileSync(join(appRoot, 'package.json'), 'utf8')).main;
  const dir = join(appRoot, dirname(main));
  const base = main.slice(main.lastIndexOf('/') + 1);
  const [prefix, suffix] = base.includes('*') ? base.split('*') : [base, ''];
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => base.includes('*') ? f.startsWith(prefix) && f.endsWith(suffix) : f === base).sort() : [];
  for (const f of files) {
    current = f;
    await import(pathToFileURL(join(dir, f)).href);
  }
  // As the worker does at start: the app's programming model (not the worker's default) answers the
  // capabilities, and with HTTP streaming names its proxy; then the proxy is closed so the process ends.
  const capabilities = model ? await model.getCapabilities({}) : {};
  const modelName = model ? model.name : '';
  process.stdout.write(JSON.stringify({ files, registered, perFile, outside, modelName, httpUri: capabilities.HttpUri || '' }));
  process.exit(0);
})().catch((err) => {
  process.stderr.write(String(err && err.stack || err));
  process.exit(3);
});
`;

interface LoadResult {
  status: number | null;
  stderr: string;
  files: string[];
  registered: string[];
  perFile: Record<string, number>;
  /** Bare requires that were resolved outside the bundle (Node's built-ins and the host's module aside). */
  outside: string[];
  /** The programming model the app set, and the HTTP proxy its capabilities name (streaming). */
  modelName: string;
  httpUri: string;
}

function loadApp(appDir: string, loaderPath: string): LoadResult {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: appDir, NO_PROXY: '127.0.0.1' };
  const child = spawnSync(process.execPath, [loaderPath], { cwd: appDir, env, encoding: 'utf8' });
  const parsed =
    child.status === 0
      ? (JSON.parse(child.stdout) as Omit<LoadResult, 'status' | 'stderr'>)
      : undefined;
  return {
    status: child.status,
    stderr: child.stderr,
    files: parsed?.files ?? [],
    registered: parsed?.registered ?? [],
    perFile: parsed?.perFile ?? {},
    outside: parsed?.outside ?? [],
    modelName: parsed?.modelName ?? '',
    httpUri: parsed?.httpUri ?? '',
  };
}

describe('npm run package', () => {
  let work: string;
  let result: PackageResult;
  let unpacked: string;
  let names: string[];
  let loaderPath: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'coordinator-package-'));
    result = await buildPackage({ root, outDir: join(work, 'out'), log: () => {} });
    unpacked = join(work, 'unpacked');
    names = extractZip(result.zipPath, unpacked);
    loaderPath = join(work, 'loader.cjs');
    writeFileSync(loaderPath, loader);
  }, 600_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  }, 300_000); // thousands of files: slow on a loaded disk

  it('unpacks where no other node_modules can be reached', () => {
    for (let dir = unpacked; ; dir = dirname(dir)) {
      if (dir !== unpacked) expect(existsSync(join(dir, 'node_modules')), dir).toBe(false);
      if (dir === parse(dir).root) break;
    }
  });

  it('holds exactly what is deployed: the bundled app, host.json, package.json', () => {
    expect(names).toContain('host.json');
    expect(names).toContain('package.json');
    expect(names).toContain('dist/app/index.js');
    expect(names.some((n) => n.startsWith('dist/app/chunks/') && n.endsWith('.js'))).toBe(true);
    const unwanted = names.filter(
      (n) =>
        !/^dist\/app\/(index|chunks\/[\w-]+)\.js$/.test(n) &&
        !/^(host\.json|package\.json|coordination\.json)$/.test(n),
    );
    expect(unwanted).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(pkg.devDependencies).toBeUndefined();
    expect(pkg.dependencies).toBeUndefined();
    expect(pkg.scripts).toBeUndefined();
    expect(pkg.main).toBe('dist/app/index.js');
    expect(result.coordinationConfig).toBe(existsSync(join(root, 'coordination.json')));
    expect(names.includes('coordination.json')).toBe(result.coordinationConfig);
  });

  it('stays under 25 MB', () => {
    expect(result.zipBytes).toBeLessThan(25 * 1024 * 1024);
  });

  it('loads the bundle alone, with nothing resolved outside it, registering what the sources register', async () => {
    const loaded = loadApp(unpacked, loaderPath);
    expect(loaded.stderr).toBe('');
    expect(loaded.status).toBe(0);
    expect(loaded.files).toEqual(['index.js']);
    expect(loaded.outside).toEqual([]);
    expect(loaded.modelName).toBe('@azure/functions');
    expect(loaded.httpUri).toMatch(/^http:\/\/localhost:\d+\/$/);
    // The same functions as the sources register (routes come from their declarations, timers and
    // queue triggers from app.timer/app.storageQueue), loaded here with the dev host's stand-in.
    const fromSources = (await loadRegistrations()).map((r) => r.name).sort();
    expect(fromSources.length).toBeGreaterThan(10);
    expect([...loaded.registered].sort()).toEqual(fromSources);
  });

  it('fails the load when a file of the bundle is missing (the check can fail)', () => {
    const entry = readFileSync(join(unpacked, 'dist', 'app', 'index.js'), 'utf8');
    const chunk = /from "\.\/(chunks\/[\w-]+\.js)"/.exec(entry)?.[1];
    expect(chunk).toBeDefined();
    rmSync(join(unpacked, 'dist', 'app', chunk ?? ''));
    const loaded = loadApp(unpacked, loaderPath);
    expect(loaded.status).not.toBe(0);
    expect(loaded.stderr).toContain(chunk);
  });
});
