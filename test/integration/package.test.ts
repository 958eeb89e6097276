// The deployment package (`npm run package`) is unpacked into an empty folder with no other node_modules
// reachable and every function entry of the package.json `main` glob is loaded in a fresh Node process,
// the way the Functions worker loads the app: the real @azure/functions from the package's own
// node_modules, with only `@azure/functions-core` supplied by the host (as the worker supplies it). A
// missing runtime dependency, a dev-only import or a file left out of the package fails here, not in Azure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPackage, type PackageResult } from '../../dev/package.js';
import { extractZip } from '../../dev/zip.js';

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
const core = {
  version: '3.10.1',
  hostVersion: '4.1037.0.0',
  registerFunction(metadata) {
    registered.push(metadata.name);
    perFile[current] = (perFile[current] || 0) + 1;
    return { dispose() {} };
  },
  setProgrammingModel() {},
  getProgrammingModel() { return undefined; },
  registerHook() { return { dispose() {} }; },
  log() {},
  Disposable: class { static from() { return { dispose() {} }; } },
};
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === '@azure/functions-core') return request;
  return resolve.call(this, request, ...rest);
};
const entry = new Module('@azure/functions-core');
entry.filename = '@azure/functions-core';
entry.loaded = true;
entry.exports = core;
require.cache['@azure/functions-core'] = entry;

(async () => {
  const main = JSON.parse(readFileSync(join(appRoot, 'package.json'), 'utf8')).main;
  const dir = join(appRoot, dirname(main));
  const [prefix, suffix] = main.slice(main.lastIndexOf('/') + 1).split('*');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith(suffix)).sort() : [];
  for (const f of files) {
    current = f;
    await import(pathToFileURL(join(dir, f)).href);
  }
  const functionsPath = require.resolve('@azure/functions', { paths: [appRoot] });
  process.stdout.write(JSON.stringify({ files, registered, perFile, functionsPath }));
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
  functionsPath: string;
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
    functionsPath: parsed?.functionsPath ?? '',
  };
}

/** Registrations in the sources: app.http('x'…), app.timer('x'…), app.storageQueue('x'…) and the like. */
function registrationsInSources(): string[] {
  const names: string[] = [];
  for (const dir of ['functions', 'shared'])
    for (const file of readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }))
      if (file.endsWith('.ts'))
        for (const m of readFileSync(join(root, dir, file), 'utf8').matchAll(
          /\bapp\.(?:http|get|post|put|patch|deleteRequest|timer|storageQueue)\(\s*'([^']+)'/g,
        ))
          names.push(m[1] ?? '');
  // HTTP routes are declared (RouteDeclaration: `name: '…', method: …`) and registered by registerRoutes.
  for (const file of readdirSync(join(root, 'functions'), { encoding: 'utf8' }))
    if (file.endsWith('.ts'))
      for (const m of readFileSync(join(root, 'functions', file), 'utf8').matchAll(
        /\bname: '([^']+)',\s*method: '/g,
      ))
        names.push(m[1] ?? '');
  return names.sort();
}

describe('npm run package', () => {
  let work: string;
  let result: PackageResult;
  let unpacked: string;
  let names: string[];
  let loaderPath: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'coordinator-package-'));
    result = buildPackage({ root, outDir: join(work, 'out'), log: () => {} });
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

  it('holds exactly what is deployed: the compiled app, production dependencies, host.json, package.json', () => {
    expect(names).toContain('host.json');
    expect(names).toContain('package.json');
    expect(names.some((n) => n.startsWith('dist/functions/') && n.endsWith('.js'))).toBe(true);
    expect(names.some((n) => n.startsWith('node_modules/@azure/functions/'))).toBe(true);
    const unwanted = names.filter(
      (n) =>
        /^dist\/(dev|bench|test)\//.test(n) ||
        /^dist\/.*\.map$/.test(n) ||
        /^(functions|shared|dev|test|bench|infra|docs)\//.test(n) ||
        /^node_modules\/(typescript|vitest|azurite|playwright-core|eslint|prettier|@types)\//.test(
          n,
        ) ||
        /^(?!node_modules\/).*\.ts$/.test(n) ||
        /^(local\.settings\.json|tsconfig.*\.json|package-lock\.json)$/.test(n),
    );
    expect(unwanted).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(pkg.devDependencies).toBeUndefined();
    expect(pkg.scripts).toBeUndefined();
    expect(pkg.main).toBe('dist/functions/*.js');
    expect(result.coordinationConfig).toBe(existsSync(join(root, 'coordination.json')));
    expect(names.includes('coordination.json')).toBe(result.coordinationConfig);
  });

  it('stays under 25 MB', () => {
    expect(result.zipBytes).toBeLessThan(25 * 1024 * 1024);
  });

  it('loads every function entry alone, with the real @azure/functions from the package', () => {
    const loaded = loadApp(unpacked, loaderPath);
    expect(loaded.stderr).toBe('');
    expect(loaded.status).toBe(0);
    expect(
      loaded.functionsPath.startsWith(join(unpacked, 'node_modules', '@azure', 'functions')),
    ).toBe(true);
    expect(loaded.files.length).toBeGreaterThan(0);
    expect([...loaded.registered].sort()).toEqual(registrationsInSources());
  });

  it('fails the load when a runtime dependency is missing (the check can fail)', () => {
    rmSync(join(unpacked, 'node_modules', 'zod'), { recursive: true, force: true });
    const loaded = loadApp(unpacked, loaderPath);
    expect(loaded.status).not.toBe(0);
    expect(loaded.stderr).toMatch(/zod/);
  });
});
