// `npm run bench [-- name…]`: run the benchmarks (all, or those named) one after another, each in its own process.
// `npm run bench -- --issue16`: the benches with issue 16's targets (coldStart, locks, webhooks, report),
// then one compact table of every `target:` line they printed, with the machine's load before and after.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const all = [
  'coldStart',
  'locks',
  'webhooks',
  'report',
  'packageSize',
  'overload',
  'octopusBudget',
];
const issue16 = ['coldStart', 'locks', 'webhooks', 'report'];
const args = process.argv.slice(2);
const compact = args.includes('--issue16');
const wanted = args.filter((a) => a !== '--issue16');
const unknown = wanted.filter((n) => !all.includes(n));
if (unknown.length > 0) {
  console.error(`Unknown benchmark ${unknown.join(', ')}. Choose from: ${all.join(', ')}.`);
  process.exit(2);
}

interface Target {
  bench: string;
  target: string;
  verdict: string;
}

/** A `target: …` line as `{ target, verdict }` (verdict: the last met/missed it says). */
function targetOf(bench: string, line: string): Target | undefined {
  const text = line
    .replace(/^[\s|]+|[\s|]+$/g, '')
    .replace(/\s*\|\s*/g, ': ')
    .trim();
  const at = text.search(/target:/i);
  if (at === -1) return undefined;
  const verdicts = [...text.matchAll(/\b(met|missed)\b/gi)];
  const verdict = verdicts.at(-1)?.[1]?.toLowerCase() ?? '?';
  return { bench, target: text.slice(at + 'target:'.length).trim(), verdict };
}

function run(name: string, targets: Target[]): Promise<boolean> {
  const file = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  if (!existsSync(file)) {
    console.error(`${name}: ${file} is missing; run \`npm run build\` first.`);
    return Promise.resolve(false);
  }
  console.log(`\n=== ${name} ===`);
  const child = spawn(process.execPath, ['--expose-gc', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let pending = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    process.stdout.write(chunk);
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const t = targetOf(name, line);
      if (t) targets.push(t);
    }
  });
  return new Promise((resolve) => {
    child.on('close', (code) => {
      const t = targetOf(name, pending);
      if (t) targets.push(t);
      resolve(code === 0);
    });
  });
}

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
const started = Date.now();
const loadBefore = load();
const targets: Target[] = [];
let failed = 0;
for (const name of wanted.length > 0 ? wanted : compact ? issue16 : all) {
  if (!(await run(name, targets))) failed += 1;
}
if (compact) {
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  console.log(
    `\n=== issue 16 targets (${new Date().toISOString()}, node ${process.version}, ${minutes} min; load average before ${loadBefore}, after ${load()}) ===`,
  );
  console.log('| bench | target: measured | |');
  console.log('|---|---|---|');
  for (const t of targets)
    console.log(`| ${t.bench} | ${t.target.replace(/\|/g, '/')} | ${t.verdict} |`);
  const missed = targets.filter((t) => t.verdict !== 'met').length;
  console.log(`${targets.length - missed} of ${targets.length} met.`);
}
process.exit(failed > 0 ? 1 : 0);
