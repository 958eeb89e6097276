// `npm run package`: builds exactly what is deployed to Azure into .package/app and zips it to
// .package/octopus-coordinator.zip. The folder holds the app compiled from functions/ and shared/ only
// and bundled with every dependency (dist/app, as dev/bundle.ts; no dev/, bench/, test/, no source maps
// and no node_modules), host.json, a package.json without scripts or dependencies, and coordination.json
// when it exists. azure.yaml deploys that folder (`dist: .package/app`), so what azd uploads is what the
// package test loads.
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleApp } from './bundle.js';
import { createZip, filesUnder } from './zip.js';

export interface PackageResult {
  /** Folder that is deployed (unzipped). */
  appDir: string;
  zipPath: string;
  zipBytes: number;
  fileCount: number;
  /** Whether coordination.json was found and included. */
  coordinationConfig: boolean;
}

export interface PackageOptions {
  /** Repository root (package.json, package-lock.json, host.json). */
  root: string;
  /** Where app/ and the zip go (default <root>/.package). */
  outDir?: string;
  log?: (line: string) => void;
}

interface PackageJson {
  name: string;
  version: string;
  main?: string;
  type?: string;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  [key: string]: unknown;
}

function run(command: string, args: string[], cwd: string): void {
  const result = spawnSync(command, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.error) throw result.error;
  if (result.status !== 0)
    throw new Error(`${[command, ...args].join(' ')} failed with exit code ${result.status}`);
}

export async function buildPackage(options: PackageOptions): Promise<PackageResult> {
  const root = resolve(options.root);
  const outDir = resolve(options.outDir ?? join(root, '.package'));
  const log = options.log ?? ((line: string) => console.log(line));
  const appDir = join(outDir, 'app');
  rmSync(appDir, { recursive: true, force: true });
  mkdirSync(appDir, { recursive: true });

  // 1. The app, compiled from functions/ and shared/ only, then bundled (dev/bundle.ts) without source
  // maps: dist/app/index.js and its chunks are all of the app's own code that is deployed.
  log('package: compiling functions/ and shared/');
  const compiled = join(outDir, 'compiled');
  rmSync(compiled, { recursive: true, force: true });
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  run(
    process.execPath,
    [tsc, '-p', join(root, 'tsconfig.package.json'), '--outDir', compiled],
    root,
  );
  log('package: bundling dist/app');
  await bundleApp({
    functionsDir: join(compiled, 'functions'),
    outDir: join(appDir, 'dist', 'app'),
    sourcemap: false,
    nodeModules: join(root, 'node_modules'),
  });
  rmSync(compiled, { recursive: true, force: true });

  // 2. package.json as the worker needs it: main, module type, engines. No dependencies and no
  // node_modules: the bundle holds every module the app loads (dev/bundle.ts refuses to leave one out),
  // so nothing is installed at deployment and the package is a few files instead of thousands.
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
  const deployed: PackageJson = {
    name: pkg.name,
    version: pkg.version,
    private: true,
    type: pkg.type,
    main: pkg.main,
    engines: pkg.engines,
  };
  writeFileSync(join(appDir, 'package.json'), `${JSON.stringify(deployed, null, 2)}\n`);
  copyFileSync(join(root, 'host.json'), join(appDir, 'host.json'));

  const configPath = join(root, 'coordination.json');
  const coordinationConfig = existsSync(configPath);
  if (coordinationConfig) copyFileSync(configPath, join(appDir, 'coordination.json'));
  else
    log(
      'package: warning: no coordination.json, so the package coordinates nothing (azd refuses to deploy it)',
    );

  // 3. One zip of that folder.
  const entries = filesUnder(appDir);
  const zipPath = join(outDir, 'octopus-coordinator.zip');
  writeFileSync(zipPath, createZip(entries));
  const zipBytes = statSync(zipPath).size;
  return { appDir, zipPath, zipBytes, fileCount: entries.length, coordinationConfig };
}

async function main(): Promise<void> {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const result = await buildPackage({ root });
  const mb = (result.zipBytes / 1024 / 1024).toFixed(1);
  console.log(
    `package: ${relative(process.cwd(), result.zipPath) || result.zipPath} ${mb} MB (${result.zipBytes} bytes, ${result.fileCount} files)`,
  );
  console.log(`package: deployed folder ${relative(process.cwd(), result.appDir)}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(`package: ${(err as Error).message}`);
    process.exitCode = 1;
  });
}
