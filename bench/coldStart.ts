// Cold start: time to import the compiled function app with all its registrations, and to the first
// webhook answer (issue 16 item 5: Azurite's table and queue services and an Octopus simulator
// configured, as in production, so the answer includes storing the event and queueing it), against
// importing @azure/functions and @azure/data-tables alone, alternately in fresh Node processes.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAzuriteTable } from '../dev/azurite.js';
import { compiledFunctionFiles } from '../dev/bundle.js';
import { mainFiles } from '../dev/functionHost.js';
import { startOctopusSimulator } from '../dev/octopus-sim/index.js';

const appRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const stub = resolve(appRoot, 'dev/functions-core-stub.cjs');
const runs = Number(process.env.COLD_START_RUNS ?? 15);

function measure(script: string): { ms: number; cpuMs: number; heapMb: number; functions: number } {
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
    cpuMs: number;
    heapMb: number;
    functions: number;
  };
}

const report = `
  const used = process.memoryUsage().heapUsed / 1048576;
  const cpu = process.cpuUsage();
  console.log(JSON.stringify({ ms: performance.now(), cpuMs: (cpu.user + cpu.system) / 1000, heapMb: used, functions: globalThis.__coordinatorFunctionRegistry.functions.length }));`;

const files = mainFiles(appRoot).filter((f) => existsSync(f));
const appScript = `${files.map((f) => `await import(${JSON.stringify(`file://${f}`)});`).join('\n')}${report}`;
const baseScript = `await import('@azure/functions'); await import('@azure/data-tables');${report}`;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

// The queue service too: with it AzureWebJobsStorage names a queue endpoint, as in Azure, and the
// webhook hands the stored event to the events queue before answering.
const azurite = await startAzuriteTable({ queue: true });
const sim = await startOctopusSimulator({ port: 0 });
const webhookEnv = {
  ...process.env,
  AzureWebJobsStorage: azurite.connectionString,
  OCTOPUS_URL: sim.url,
  OCTOPUS_API_KEY: sim.apiKey,
  WEBHOOK_SECRET: 'cold-start-secret',
  MAIL_OUTBOX_DIR: '/tmp/bench-outbox',
  COLD_START_FILES: JSON.stringify(files),
  COLD_START_TABLE_PORT: String(azurite.port),
  COLD_START_QUEUE_PORT: String(azurite.queuePort ?? ''),
};
const webhookScript = resolve(appRoot, 'dist/bench/coldStartWebhook.js');

interface FirstWebhook {
  importMs: number;
  /** CPU time of the process (user + system) when the answer was read. */
  answerCpuMs: number;
  readyMs: number;
  answerMs: number;
  status: string;
  tableRequests: number;
  queueRequests: number;
}

/**
 * The same app as compiled modules, without the bundle (what package.json's `main` loaded until the
 * app was bundled): measured alongside so every run shows what the bundle saves, in the same run.
 */
const unbundled = compiledFunctionFiles(resolve(appRoot, 'dist/functions'));

/** A fresh process that imports the app and answers one webhook (bench/coldStartWebhook.ts). */
function firstWebhook(appFiles = files): FirstWebhook {
  const out = execFileSync(process.execPath, ['--require', stub, webhookScript], {
    cwd: appRoot,
    encoding: 'utf8',
    env: { ...webhookEnv, COLD_START_FILES: JSON.stringify(appFiles) },
  });
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as FirstWebhook;
}

const app: number[] = [];
const base: number[] = [];
const answers: number[] = [];
const baseCpu: number[] = [];
const answerCpu: number[] = [];
const webhookImports: number[] = [];
const afterReady: number[] = [];
const unbundledAnswers: number[] = [];
const unbundledCpu: number[] = [];
const requests = new Set<string>();
const statuses = new Set<string>();
let functions = 0;
let appHeap = 0;
let baseHeap = 0;
try {
  measure(baseScript); // warm the file system cache for all three
  measure(appScript);
  firstWebhook();
  firstWebhook(unbundled);
  for (let i = 0; i < runs; i++) {
    const b = measure(baseScript);
    const a = measure(appScript);
    const w = firstWebhook();
    const u = firstWebhook(unbundled);
    unbundledAnswers.push(u.answerMs);
    unbundledCpu.push(u.answerCpuMs);
    base.push(b.ms);
    app.push(a.ms);
    answers.push(w.answerMs);
    baseCpu.push(b.cpuMs);
    answerCpu.push(w.answerCpuMs);
    webhookImports.push(w.importMs);
    afterReady.push(w.answerMs - w.readyMs);
    requests.add(`${w.tableRequests} Table, ${w.queueRequests} queue`);
    statuses.add(w.status);
    functions = a.functions;
    appHeap = a.heapMb;
    baseHeap = b.heapMb;
  }
} finally {
  await sim.stop();
  await azurite.stop();
}
const ratio = median(app) / median(base);
const answerRatio = median(answers) / median(base);
const cpuRatio = median(answerCpu) / median(baseCpu);
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
  `  first webhook answered (import + first request, status ${[...statuses].join('/')}): ${median(answers).toFixed(1)} ms`,
);
console.log(
  `    of which: the app's import ${median(webhookImports).toFixed(1)} ms; the request after the worker's start-up ${median(afterReady).toFixed(1)} ms; storage requests ${[...requests].join(' / ')}`,
);
console.log(
  `  CPU time (user + system, from process start; less disturbed by other load than wall time): baseline ${median(baseCpu).toFixed(1)} ms, first webhook answered ${median(answerCpu).toFixed(1)} ms, ratio ${cpuRatio.toFixed(2)}`,
);
console.log(
  `  the same app unbundled (dist/functions/*.js, as before the bundle): first webhook answered ${median(unbundledAnswers).toFixed(1)} ms (${(median(unbundledAnswers) / median(base)).toFixed(2)} × baseline), CPU ${median(unbundledCpu).toFixed(1)} ms (${(median(unbundledCpu) / median(baseCpu)).toFixed(2)} ×)`,
);
console.log(
  `  ratio app / baseline: ${ratio.toFixed(2)} (target <= 1.5) ${ratio <= 1.5 ? 'OK' : 'OVER TARGET'}`,
);
console.log(
  `target: first webhook answer ≤ 1.3 × baseline import: ${answerRatio.toFixed(2)} × (${median(answers).toFixed(0)} ms against ${median(base).toFixed(0)} ms), ${answerRatio <= 1.3 ? 'met' : 'MISSED'}`,
);
