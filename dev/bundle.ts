// The function app as it is loaded: one ES module bundle of the compiled functions/*.js (in the order
// the worker would load a `main` glob) with everything they import, built by esbuild. Modules that are
// imported lazily (`await import(...)`: the report, mail, the Octopus client, the SDKs of the paths
// that need them) stay lazy as chunks of their own under chunks/, so the first webhook after a cold start
// reads one file and the few chunks its path needs instead of several hundred modules under
// node_modules (bench/README.md, "Cold start"). package.json's `main` names the bundle's entry, so the
// dev host, every test that runs the app and the deployed package all load this same artifact.
//
// Only `@azure/functions-core` (the worker's built-in module: the worker serves it to `require`) and
// Node's built-ins stay outside the bundle. Anything else left external fails the build: the deployed
// package has no node_modules (dev/package.ts), so nothing may be resolved there at run time.
// Types only at the top: dev/start.ts imports staleBundle from here, and a dev host start need not load
// esbuild (bundleApp loads it when it builds).
import type { Metafile, Plugin } from 'esbuild';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BundleOptions {
  /** Compiled functions folder (functions/*.js, with shared/ beside it as tsc wrote them). */
  functionsDir: string;
  /** Output folder: index.js and chunks/. Emptied first. */
  outDir: string;
  /** Linked source maps (development); the package ships none. */
  sourcemap: boolean;
  /** The node_modules dependencies are read from, when functionsDir is not inside the repository. */
  nodeModules?: string;
}

export interface BundleResult {
  entry: string;
  /** Every output file (entry and chunks). */
  files: string[];
  bytes: number;
  /** Input modules in the bundle. */
  modules: number;
}

/** Bare imports that may stay outside the bundle (see the header). */
const allowedExternal = (path: string): boolean =>
  path === '@azure/functions-core' || isBuiltin(path);

const entryName = 'coordinator-functions';

/** The entry: every compiled function file, imported in file-name order as the `main` glob did. */
function entryPlugin(functionsDir: string): Plugin {
  const files = readdirSync(functionsDir)
    .filter((f) => f.endsWith('.js'))
    .sort();
  if (files.length === 0) throw new Error(`${functionsDir} holds no compiled functions`);
  return {
    name: 'coordinator-entry',
    setup(b) {
      b.onResolve({ filter: new RegExp(`^${entryName}$`) }, () => ({
        path: entryName,
        namespace: 'coordinator-entry',
      }));
      b.onLoad({ filter: /.*/, namespace: 'coordinator-entry' }, () => ({
        contents: files.map((f) => `import ${JSON.stringify(`./${f}`)};`).join('\n'),
        resolveDir: functionsDir,
        loader: 'js',
      }));
    },
  };
}

export async function bundleApp(options: BundleOptions): Promise<BundleResult> {
  const outDir = resolve(options.outDir);
  rmSync(outDir, { recursive: true, force: true });
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: { index: entryName },
    plugins: [entryPlugin(resolve(options.functionsDir))],
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // ESM builds of dependencies where they have them (jsonc-parser's UMD build requires its own files
    // by computed paths, which no bundler can follow).
    mainFields: ['module', 'main'],
    ...(options.nodeModules ? { nodePaths: [resolve(options.nodeModules)] } : {}),
    outdir: outDir,
    chunkNames: 'chunks/[name]-[hash]',
    external: ['@azure/functions-core'],
    // CommonJS dependencies call require() for Node's built-ins and the worker's module: an ES module
    // has no require, so each output file gets one of its own (the worker intercepts it for
    // @azure/functions-core as it does any require).
    banner: {
      js: "import { createRequire as __coordinatorRequire } from 'node:module'; const require = __coordinatorRequire(import.meta.url);",
    },
    sourcemap: options.sourcemap ? 'linked' : false,
    metafile: true,
    logLevel: 'silent',
    // Names kept (no minifying): stack traces in Application Insights stay readable.
    minify: false,
  });
  if (result.warnings.length > 0)
    throw new Error(
      `bundle: ${result.warnings.map((w) => `${w.text}${w.location ? ` (${w.location.file}:${w.location.line})` : ''}`).join('; ')}`,
    );
  checkExternals(result.metafile);
  const outputs = Object.entries(result.metafile.outputs).filter(([f]) => f.endsWith('.js'));
  return {
    entry: join(outDir, 'index.js'),
    files: outputs.map(([f]) => resolve(f)),
    bytes: outputs.reduce((n, [, o]) => n + o.bytes, 0),
    modules: Object.keys(result.metafile.inputs).length,
  };
}

function checkExternals(metafile: Metafile): void {
  const stray = new Set<string>();
  for (const output of Object.values(metafile.outputs))
    for (const imported of output.imports)
      if (imported.external && !allowedExternal(imported.path)) stray.add(imported.path);
  if (stray.size > 0)
    throw new Error(
      `bundle: left outside the bundle: ${[...stray].join(', ')} (the deployed package has no node_modules: bundle it)`,
    );
}

/**
 * A compiled file under dist/functions or dist/shared newer than the bundle (compiled with tsc alone,
 * not bundled since): the app would run older code than was compiled. Undefined when the bundle is
 * current or when there is nothing to compare.
 */
export function staleBundle(root: string): string | undefined {
  const entry = join(root, 'dist', 'app', 'index.js');
  if (!existsSync(entry)) return undefined;
  const built = statSync(entry).mtimeMs;
  const newer = (dir: string): string | undefined => {
    if (!existsSync(dir)) return undefined;
    for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
      if (!name.endsWith('.js')) continue;
      const file = join(dir, name);
      if (statSync(file).mtimeMs > built) return file;
    }
    return undefined;
  };
  return newer(join(root, 'dist', 'functions')) ?? newer(join(root, 'dist', 'shared'));
}

async function main(): Promise<void> {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const started = performance.now();
  const result = await bundleApp({
    functionsDir: join(root, 'dist', 'functions'),
    outDir: join(root, 'dist', 'app'),
    sourcemap: true,
  });
  console.log(
    `bundle: ${relative(process.cwd(), result.entry)} and ${result.files.length - 1} chunks, ${(result.bytes / 1024).toFixed(0)} KB from ${result.modules} modules in ${(performance.now() - started).toFixed(0)} ms`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  });
}
