// Octopus calls per minute for a large installation: 500 projects in 20 sets of 25, three
// environments, one status poll a minute; against the coordinator's default request budget
// (OCTOPUS_MAX_REQUESTS_PER_MINUTE) and Octopus's smallest documented rate-limit policy (200/min).
import { startAzuriteTable } from '../dev/azurite.js';
import { startOctopusSimulator } from '../dev/octopus-sim/index.js';
import { pollOnce } from '../shared/app/poll.js';
import { coordinationConfigSchema } from '../shared/config/coordination/schema.js';
import { defaultMaxRequestsPerMinute } from '../shared/octopus/budget.js';
import { silentLog } from '../shared/runtime/log.js';
import { createRuntime } from '../shared/runtime/runtime.js';

const projects = Number(process.env.BENCH_BUDGET_PROJECTS ?? 500);
const sets = Number(process.env.BENCH_BUDGET_SETS ?? 20);
const polls = Number(process.env.BENCH_BUDGET_POLLS ?? 5);

const azurite = await startAzuriteTable();
const sim = await startOctopusSimulator({ port: 0 });
try {
  const names = Array.from(
    { length: projects },
    (_, i) => `Service ${String(i + 1).padStart(3, '0')}`,
  );
  const environments = ['Development', 'Test', 'Production'];
  sim.loadScenario({
    environments,
    lifecycles: [
      { name: 'Default Lifecycle', phases: environments.map((e) => ({ environments: [e] })) },
    ],
    projects: names.map((name) => ({ name, steps: ['Deploy'] })),
    releases: names.map((project) => ({ project, version: '1.0.0' })),
    history: names.flatMap((project, i) =>
      environments.slice(0, 1 + (i % 3)).map((environment, j) => ({
        project,
        release: '1.0.0',
        environment,
        minutesAgo: 300 - j * 60,
      })),
    ),
  });
  const perSet = Math.ceil(projects / sets);
  const projectSets = Object.fromEntries(
    Array.from({ length: sets }, (_, s) => [
      `set-${s + 1}`,
      { projects: names.slice(s * perSet, (s + 1) * perSet) },
    ]),
  );
  const config = coordinationConfigSchema.parse({
    space: 'Default',
    projectSets,
    watches: Object.keys(projectSets).map((set) => ({
      name: `${set}-live`,
      set,
      environments,
      recipients: ['bench@example.com'],
    })),
  });
  const runtime = await createRuntime({
    env: {
      AzureWebJobsStorage: azurite.connectionString,
      OCTOPUS_URL: sim.url,
      OCTOPUS_API_KEY: sim.apiKey,
      WEBHOOK_SECRET: 'bench',
      MAIL_OUTBOX_DIR: '/tmp/bench-budget-outbox',
    },
    config,
    tablePrefix: 'benchbudget',
  });
  const counts: number[] = [];
  let byEndpoint = '';
  for (let i = 0; i < polls; i++) {
    sim.resetRequests();
    await pollOnce(runtime, silentLog);
    counts.push(sim.requests().total);
    byEndpoint = Object.entries(sim.requests().byEndpoint)
      .map(([k, v]) => `${k} x${v}`)
      .join(', ');
  }
  const steady = counts.slice(1);
  const perMinute = steady.length > 0 ? Math.max(...steady) : (counts[0] ?? 0);
  console.log(
    `${projects} projects in ${sets} sets (${perSet} each), ${environments.length} environments, one status poll a minute:`,
  );
  console.log(
    `  Octopus calls per poll: first ${counts[0]}, then ${steady.join(', ')} (last: ${byEndpoint})`,
  );
  console.log(
    `  => ${perMinute} calls/minute in steady state; default budget ${defaultMaxRequestsPerMinute}/minute (${((100 * perMinute) / defaultMaxRequestsPerMinute).toFixed(1)}% used), smallest documented Octopus policy 200/minute`,
  );
} finally {
  await sim.stop();
  await azurite.stop();
}
