// Daily report benchmark: build time (wall and CPU), peak memory, Octopus calls and email size for
// days of 1,000, 10,000 and 50,000 deployments, each against its target (issue 16). The simulator runs in a child process, so the CPU and memory measured
// here are the coordinator's alone. Run: `npm run build && node dist/bench/report.js [sizes...]`.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { startOctopusSimulator, type Scenario } from '../dev/octopus-sim/index.js';
import { systemClock } from '../shared/clock.js';
import { createOctopusClient } from '../shared/octopus/client.js';
import { buildDailyReport } from '../shared/report/buildReport.js';
import { dayWindow } from '../shared/report/dayWindow.js';
import { addDays, localDateOf } from '../shared/time/zones.js';
import { EMAIL_LIMITS } from '../shared/report/dailyReportJob.js';
import { IDS_PER_CALL, TASK_PAGE_SIZE } from '../shared/report/gather.js';
import { renderHtml } from '../shared/report/renderHtml.js';
import { renderText } from '../shared/report/renderText.js';

const zone = 'UTC';
const PROJECTS = 50;
const TENANTED = 10;
const TENANTS = 25;
const VERSIONS = 10;
const environments = ['Development', 'Test', 'Staging', 'Production'];

/** `perDay` deployments finishing evenly through `date` and through the day before, 5% failed, 1% canceled. */
function scenarioFor(perDay: number, date: string, now: number): Scenario {
  const projects = Array.from({ length: PROJECTS }, (_, p) => ({
    name: `Service ${String(p + 1).padStart(2, '0')}`,
    steps: ['Deploy', 'Verify'],
    tenantedDeploymentMode: p < TENANTED ? ('Tenanted' as const) : ('Untenanted' as const),
  }));
  const tenants = Array.from({ length: TENANTS }, (_, t) => ({
    name: `Customer ${t + 1}`,
    projectEnvironments: Object.fromEntries(
      projects.slice(0, TENANTED).map((p) => [p.name, environments]),
    ),
  }));
  const history: NonNullable<Scenario['history']> = [];
  for (const day of [addDays(date, -1), date]) {
    const window = dayWindow(day, zone);
    const span = window.end.getTime() - window.start.getTime() - 20 * 60_000;
    for (let i = 0; i < perDay; i++) {
      const p = i % PROJECTS;
      const project = projects[p];
      if (!project) continue;
      const durationSeconds = 30 + ((i * 53) % 570);
      const completed = window.start.getTime() + 60_000 + Math.floor((span * i) / perDay);
      history.push({
        project: project.name,
        release: `1.${(i >> 3) % VERSIONS}.0`,
        environment: environments[Math.floor(i / PROJECTS) % environments.length] ?? 'Test',
        ...(p < TENANTED ? { tenant: `Customer ${(Math.floor(i / PROJECTS) % TENANTS) + 1}` } : {}),
        outcome: i % 20 === 7 ? 'Failed' : i % 100 === 42 ? 'Canceled' : 'Success',
        minutesAgo: (now - (completed - durationSeconds * 1000)) / 60_000,
        durationSeconds,
      });
    }
  }
  return {
    space: { name: 'Default' },
    environments,
    lifecycles: [{ name: 'Default Lifecycle', phases: [{ environments: [] }] }],
    projects,
    tenants,
    releases: projects.flatMap((p) =>
      Array.from({ length: VERSIONS }, (_, v) => ({
        project: p.name,
        version: `1.${v}.0`,
        createdMinutesAgo: 60 * 24 * 30,
      })),
    ),
    history,
  };
}

/** Child process: serve a simulator with the scenario and report its URL. */
async function serveSimulator(perDay: number, date: string): Promise<void> {
  const sim = await startOctopusSimulator({ port: 0 });
  const loaded = sim.loadScenario(scenarioFor(perDay, date, sim.now()));
  process.send?.({ url: sim.url, apiKey: sim.apiKey, deployments: loaded.deployments });
  process.on('disconnect', () => void sim.stop().then(() => process.exit(0)));
}

interface Served {
  url: string;
  apiKey: string;
  deployments: number;
}

function startChild(
  perDay: number,
  date: string,
): Promise<{ child: ChildProcess; served: Served }> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve-sim', String(perDay), date], {
    execArgv: ['--max-old-space-size=4096'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (served) => resolve({ child, served: served as Served }));
    child.once('error', reject);
    child.once('exit', (code) =>
      reject(new Error(`The simulator process exited early (${code}).`)),
    );
  });
}

interface Figures {
  deployments: number;
  wallMs: number;
  cpuMs: number;
  buildCpuMs: number;
  renderMs: number;
  fullRenderCpuMs: number;
  peakHeapMb: number;
  heapGrowthMb: number;
  jobHeapGrowthMb: number;
  calls: number;
  callsStoredPrevious: number;
  target: number;
  byEndpoint: Record<string, number>;
  htmlKb: number;
  emailHtmlKb: number;
  emailTextKb: number;
  samples: number;
  samplerMs: number;
}

async function measure(perDay: number, date: string): Promise<Figures> {
  const { child, served } = await startChild(perDay, date);
  try {
    const scope = { spaces: ['Default'], sets: [], projects: [], environments: [] };
    const warm = createOctopusClient({
      url: served.url,
      apiKey: served.apiKey,
      space: 'Default',
    });
    // Warm-up (connections, JIT) on the following day, which has no deployments.
    await buildDailyReport(
      { clientFor: () => warm, scope, clock: systemClock },
      addDays(date, 1),
      zone,
      { previous: 'skip' },
    );

    // As the CLI and HTTP route do: the day before is read from Octopus too.
    const client = createOctopusClient({
      url: served.url,
      apiKey: served.apiKey,
      space: 'Default',
    });
    global.gc?.();
    // The heap's used size alone (what process.memoryUsage().heapUsed reports, without reading the
    // process's RSS from /proc each time); the sampler's own time is counted and printed, since it
    // falls inside the CPU measured below.
    const heapUsed = (): number => getHeapStatistics().used_heap_size;
    const heapBefore = heapUsed();
    let peak = heapBefore;
    let samples = 0;
    let samplerMs = 0;
    const sampler = setInterval(() => {
      const s0 = performance.now();
      peak = Math.max(peak, heapUsed());
      samples += 1;
      samplerMs += performance.now() - s0;
    }, 50);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const report = await buildDailyReport(
      { clientFor: () => client, scope, clock: systemClock },
      date,
      zone,
    );
    const r0 = performance.now();
    const buildCpu = process.cpuUsage(cpu0);
    const link = 'https://coordinator.example.com/api/reports/daily?date=' + date;
    const emailHtml = renderHtml(report, { ...EMAIL_LIMITS, fullReportUrl: link });
    const emailText = renderText(report, { ...EMAIL_LIMITS, fullReportUrl: link });
    const t1 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    // The job's path ends here (gather and email); the full render below is the HTTP route's and CLI's.
    const peakJob = Math.max(peak, heapUsed());
    // The full report (the HTTP route and the CLI, not the email): measured apart.
    const full0 = process.cpuUsage();
    const html = renderHtml(report);
    renderText(report);
    const fullCpu = process.cpuUsage(full0);
    clearInterval(sampler);
    peak = Math.max(peak, heapUsed());
    if (report.totals.deployments !== perDay) {
      throw new Error(
        `The report counted ${report.totals.deployments} deployments, expected ${perDay}.`,
      );
    }

    // As the timer job does on consecutive days: the day before's totals come from its stored row.
    const job = createOctopusClient({
      url: served.url,
      apiKey: served.apiKey,
      space: 'Default',
    });
    await buildDailyReport({ clientFor: () => job, scope, clock: systemClock }, date, zone, {
      previous: report.previous ?? 'skip',
    });

    return {
      deployments: perDay,
      wallMs: t1 - t0,
      cpuMs: (cpu.user + cpu.system) / 1000,
      buildCpuMs: (buildCpu.user + buildCpu.system) / 1000,
      renderMs: t1 - r0,
      fullRenderCpuMs: (fullCpu.user + fullCpu.system) / 1000,
      peakHeapMb: peak / 1048576,
      heapGrowthMb: (peak - heapBefore) / 1048576,
      jobHeapGrowthMb: (peakJob - heapBefore) / 1048576,
      calls: client.calls.total,
      callsStoredPrevious: job.calls.total,
      target: 2 * Math.ceil(perDay / TASK_PAGE_SIZE) + 3,
      byEndpoint: job.calls.byEndpoint(),
      htmlKb: Buffer.byteLength(html) / 1024,
      emailHtmlKb: Buffer.byteLength(emailHtml) / 1024,
      emailTextKb: Buffer.byteLength(emailText) / 1024,
      samples,
      samplerMs,
    };
  } finally {
    child.disconnect();
  }
}

async function main(): Promise<void> {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  const date = addDays(localDateOf(Date.now(), zone), -1);
  console.log(
    `Daily report benchmark: ${date} (${zone}), tasks and deployments paged ${TASK_PAGE_SIZE} at a time, ${IDS_PER_CALL} ids per call, node ${process.version}`,
  );
  console.log(
    '| deployments | wall | CPU: gather + email | of which gather | full report render CPU | peak heap (growth; before the full render) | Octopus calls (day before read / stored) | HTML full / email (text part) |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  const endpoints: string[] = [];
  const targets: string[] = [];
  const samplerLines: string[] = [];
  const verdict = (met: boolean): string => (met ? 'met' : 'MISSED');
  for (const n of sizes.length > 0 ? sizes : [1_000, 10_000, 50_000]) {
    const f = await measure(n, date);
    console.log(
      `| ${f.deployments} | ${f.wallMs.toFixed(0)} ms | ${f.cpuMs.toFixed(0)} ms | ${f.buildCpuMs.toFixed(0)} ms | ${f.fullRenderCpuMs.toFixed(0)} ms | ${f.peakHeapMb.toFixed(0)} MB (+${f.heapGrowthMb.toFixed(0)}; +${f.jobHeapGrowthMb.toFixed(0)}) | ${f.calls} / ${f.callsStoredPrevious} | ${f.htmlKb.toFixed(0)} KB / ${f.emailHtmlKb.toFixed(0)} KB (${f.emailTextKb.toFixed(0)} KB) |`,
    );
    endpoints.push(
      `${n}: ${Object.entries(f.byEndpoint)
        .map(([e, c]) => `${e} ×${c}`)
        .join(', ')}`,
    );
    samplerLines.push(
      `${n}: ${f.samples} heap samples took ${f.samplerMs.toFixed(1)} ms of the measured CPU`,
    );
    targets.push(
      `target: email HTML ≤ 100 KB at ${n}: ${f.emailHtmlKb.toFixed(1)} KB, ${verdict(f.emailHtmlKb <= 100)}`,
      `target: Octopus calls ≤ 2 × ceil(n/1000) + 3 = ${f.target} at ${n} (the job, day before stored): ${f.callsStoredPrevious}, ${verdict(f.callsStoredPrevious <= f.target)} (day before read from Octopus too: ${f.calls})`,
    );
    if (n === 10_000)
      targets.push(
        `target: CPU (gather with the day before read from Octopus, plus the email) < 1 s at 10000: ${(f.cpuMs / 1000).toFixed(2)} s, ${verdict(f.cpuMs < 1000)}`,
      );
    if (n === 50_000)
      targets.push(
        `target: CPU (gather with the day before read from Octopus, plus the email) < 5 s at 50000: ${(f.cpuMs / 1000).toFixed(2)} s, ${verdict(f.cpuMs < 5000)}`,
        `target: heap growth < 40 MB at 50000: ${f.heapGrowthMb.toFixed(1)} MB, ${verdict(f.heapGrowthMb < 40)}${global.gc ? '' : ' (run with --expose-gc for a clean start)'} (gather + email alone, before the full render: ${f.jobHeapGrowthMb.toFixed(1)} MB)`,
      );
  }
  console.log('');
  for (const line of targets) console.log(line);
  console.log('\nCalls per endpoint (stored day-before totals):');
  for (const line of endpoints) console.log(`  ${line}`);
  console.log('\nThe peak heap sampler (every 50 ms, inside the measured CPU):');
  for (const line of samplerLines) console.log(`  ${line}`);
}

if (process.argv[2] === '--serve-sim') {
  await serveSimulator(Number(process.argv[3]), process.argv[4] ?? '');
} else {
  await main();
}
