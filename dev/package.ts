// `npm run package`: builds exactly what is deployed to Azure into .package/app and zips it to
// .package/octopus-coordinator.zip. The folder holds the app compiled from functions/ and shared/ only
// (no dev/, bench/, test/ and no source maps), host.json, a package.json without scripts or
// devDependencies, the production dependencies installed from package-lock.json, and coordination.json
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

/** Files under node_modules that no runtime reads: source maps and type declarations. */
function removeUnneeded(dir: string): void {
  for (const entry of filesUnder(dir)) {
    if (/\.(js|mjs|cjs)\.map$|\.d\.(ts|mts|cts)$|\.d\.ts\.map$/.test(entry.name))
      rmSync(join(dir, entry.name));
  }
}

export function buildPackage(options: PackageOptions): PackageResult {
  const root = resolve(options.root);
  const outDir = resolve(options.outDir ?? join(root, '.package'));
  const log = options.log ?? ((line: string) => console.log(line));
  const appDir = join(outDir, 'app');
  rmSync(appDir, { recursive: true, force: true });
  mkdirSync(appDir, { recursive: true });

  // 1. The app, compiled from functions/ and shared/ only, without source maps.
  log('package: compiling functions/ and shared/');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  run(
    process.execPath,
    [tsc, '-p', join(root, 'tsconfig.package.json'), '--outDir', join(appDir, 'dist')],
    root,
  );

  // 2. Production dependencies, exactly as locked.
  log('package: installing production dependencies (npm ci --omit=dev)');
  copyFileSync(join(root, 'package.json'), join(appDir, 'package.json'));
  copyFileSync(join(root, 'package-lock.json'), join(appDir, 'package-lock.json'));
  const npmCli = process.env.npm_execpath;
  const npmArgs = [
    'ci',
    '--omit=dev',
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    '--prefer-offline',
  ];
  if (npmCli && /npm-cli\.js$/.test(npmCli)) run(process.execPath, [npmCli, ...npmArgs], appDir);
  else run('npm', npmArgs, appDir);
  rmSync(join(appDir, 'package-lock.json'));
  removeUnneeded(join(appDir, 'node_modules'));

  // 3. package.json as the worker needs it: main glob, module type, engines, dependencies.
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
  const deployed: PackageJson = {
    name: pkg.name,
    version: pkg.version,
    private: true,
    type: pkg.type,
    main: pkg.main,
    engines: pkg.engines,
    dependencies: pkg.dependencies,
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

  // 4. One zip of that folder.
  const entries = filesUnder(appDir);
  const zipPath = join(outDir, 'octopus-coordinator.zip');
  writeFileSync(zipPath, createZip(entries));
  const zipBytes = statSync(zipPath).size;
  return { appDir, zipPath, zipBytes, fileCount: entries.length, coordinationConfig };
}

function main(): void {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const result = buildPackage({ root });
  const mb = (result.zipBytes / 1024 / 1024).toFixed(1);
  console.log(
    `package: ${relative(process.cwd(), result.zipPath) || result.zipPath} ${mb} MB (${result.zipBytes} bytes, ${result.fileCount} files)`,
  );
  console.log(`package: deployed folder ${relative(process.cwd(), result.appDir)}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (err) {
    console.error(`package: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
