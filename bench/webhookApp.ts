// The function app for the webhook benchmark, in a process of its own as the Functions host is in
// Azure: the compiled app on the dev host, real HTTP. Started by bench/webhooks.ts with fork();
// it sends `{ url }` when serving and answers `idle` (the events queue drained: found empty by the
// host's listener on its own schedule, nothing in flight), `cpu` (its CPU time, Table requests and
// queue requests so far, for the per-event breakdown) and `stop`.
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compiledFunctionFiles } from '../dev/bundle.js';
import { FunctionHost } from '../dev/functionHost.js';
import { coordinationConfigSchema } from '../shared/config/coordination/schema.js';
import { settingDefaults } from '../shared/config/settings.js';
import { enqueueIdle } from '../shared/events/queue.js';
import { createRuntime, setRuntime } from '../shared/runtime/runtime.js';

const appRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const send = (message: unknown): void => void process.send?.(message);

const env: NodeJS.ProcessEnv = {
  AzureWebJobsStorage: process.env.AzureWebJobsStorage,
  WEBHOOK_SECRET: process.env.WEBHOOK_SECRET,
  WEBHOOK_SECRET_HEADER: process.env.WEBHOOK_SECRET_HEADER,
  MAIL_OUTBOX_DIR: '/tmp/bench-outbox',
  // Octopus configured as in production, so the runs step runs on every event naming a task.
  ...(process.env.OCTOPUS_URL
    ? { OCTOPUS_URL: process.env.OCTOPUS_URL, OCTOPUS_API_KEY: process.env.OCTOPUS_API_KEY }
    : {}),
};
const problems = { count: 0, first: [] as string[] };
const runtime = await createRuntime({
  env,
  config: coordinationConfigSchema.parse({}),
  tablePrefix: 'benchwh',
});
setRuntime(runtime);
// The compiled modules rather than the bundle of package.json's `main`: this bench reads the app's
// Table and queue counters through the runtime it sets here, which must be the module instance the
// app uses (the bundle has its own). Steady-state cost per event is the same code either way; the
// cold-start bench measures the bundle as deployed.
const host = new FunctionHost({
  appRoot,
  files: compiledFunctionFiles(join(appRoot, 'dist', 'functions')),
  port: 0,
  env: { ...env, ...settingDefaults },
  timers: false,
  // Warnings and errors are counted (and the first few kept), so a run that held events in memory
  // or failed to queue them says so instead of looking like a fast run.
  log: (line) => {
    if (!/error|warn|failed/i.test(line)) return;
    problems.count += 1;
    if (problems.first.length < 3) problems.first.push(line.slice(0, 300));
  },
});
await host.load();
await host.start();

process.on('message', (message: unknown) => {
  if (message === 'idle') {
    void enqueueIdle(runtime)
      .then(() => Promise.all([...host.listeners.values()].map((l) => l.idle(false))))
      .then(() => send('idle'));
  } else if (message === 'cpu') {
    send({
      cpu: process.cpuUsage(),
      tableRequests: runtime.tables.roundTrips.count,
      tableKinds: Object.fromEntries(runtime.tables.roundTrips.byKind),
      problems,
      queueRequestsApp: runtime.queues.roundTrips.count,
      queueRequestsHost: [...host.listeners.values()].reduce((n, l) => n + l.requests, 0),
    });
  } else if (message === 'rss') {
    send({ rss: process.memoryUsage().rss });
  } else if (message === 'stop') {
    void host.stop().then(() => process.exit(0));
  }
});
send({ url: host.url });
