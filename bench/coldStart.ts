// Cold start: time to import the compiled function app with all its registrations, against importing
// @azure/functions and @azure/data-tables alone, measured alternately in fresh Node processes.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mainFiles } from '../dev/functionHost.js';

const appRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const stub = resolve(appRoot, 'dev/functions-core-stub.cjs');
const runs = Number(process.env.COLD_START_RUNS ?? 15);

function measure(script: string): { ms: number; heapMb: number; functions: number } {
  // performance.now() counts from the process's start, so Node's own boot is in both figures.
  const out = execFileSync(
    process.execPath,
    ['--require', stub, '--input-type=module', '-e', script],
    {
      cwd: appRoot,
      encoding: 'utf8',
    },
  );
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as {
    ms: number;
    heapMb: number;
    functions: number;
  };
}

const report = `
  const used = process.memoryUsage().heapUsed / 1048576;
  console.log(JSON.stringify({ ms: performance.now(), heapMb: used, functions: globalThis.__coordinatorFunctionRegistry.functions.length }));`;

const files = mainFiles(appRoot).filter((f) => existsSync(f));
const appScript = `${files.map((f) => `await import(${JSON.stringify(`file://${f}`)});`).join('\n')}${report}`;
const baseScript = `await import('@azure/functions'); await import('@azure/data-tables');${report}`;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

measure(baseScript); // warm the file system cache for both
measure(appScript);
const app: number[] = [];
const base: number[] = [];
let functions = 0;
let appHeap = 0;
let baseHeap = 0;
for (let i = 0; i < runs; i++) {
  const b = measure(baseScript);
  const a = measure(appScript);
  base.push(b.ms);
  app.push(a.ms);
  functions = a.functions;
  appHeap = a.heapMb;
  baseHeap = b.heapMb;
}
const ratio = median(app) / median(base);
console.log(
  `cold start (${runs} alternating runs, median; ${files.length} files, ${functions} functions registered)`,
);
console.log(
  `  baseline  @azure/functions + @azure/data-tables: ${median(base).toFixed(1)} ms, heap ${baseHeap.toFixed(1)} MB`,
);
console.log(
  `  function app with all registrations:            ${median(app).toFixed(1)} ms, heap ${appHeap.toFixed(1)} MB`,
);
console.log(
  `  ratio app / baseline: ${ratio.toFixed(2)} (target <= 1.5) ${ratio <= 1.5 ? 'OK' : 'OVER TARGET'}`,
);
