// The import graph of functions/ and shared/ keeps the layering of the README's Layout section:
// functions → app → features and ui → mechanisms (events, status, jobs) → ports. Nothing imports
// upward, and there are no circles, neither between folders nor between files.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Higher imports lower or equal, never the other way. Files directly under shared/ are ports. */
const layers: Record<string, number> = {
  // ports
  runtime: 0,
  storage: 0,
  http: 0,
  mail: 0,
  html: 0,
  octopus: 0,
  config: 0,
  time: 0,
  'shared/*': 0,
  // mechanisms and their interfaces
  events: 1,
  status: 1,
  jobs: 1,
  // features, and the read models and page
  runs: 2,
  locks: 2,
  watches: 2,
  promotion: 2,
  report: 2,
  cooperation: 2,
  conditions: 2,
  retention: 2,
  health: 2,
  freezes: 2,
  ui: 2,
  trains: 2,
  // the composition root
  app: 3,
  // entry points
  functions: 4,
  cli: 4,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** `functions`, `app`, `runs`, …, or `shared/*` for a file directly under shared/. */
function folderOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] !== 'shared') return parts[0] ?? file;
  return parts.length === 2 ? 'shared/*' : (parts[1] ?? file);
}

const importPattern =
  /(?:^|\n)\s*(?:import|export)\b[^'"]*?\sfrom\s+'([^']+)'|(?:^|\n)\s*import\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const targets: string[] = [];
  for (const m of text.matchAll(importPattern)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (!spec?.startsWith('.')) continue;
    targets.push(
      relative(root, normalize(join(root, dirname(file), spec))).replace(/\.js$/, '.ts'),
    );
  }
  return targets;
}

const files = [...sourceFiles('functions'), ...sourceFiles('shared')];
const graph = new Map(files.map((f) => [f, importsOf(f)]));

/** Every cycle found by a depth-first walk, each as the path that closes it. */
function cycles(edges: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const stack: string[] = [];
  const visit = (node: string) => {
    const at = stack.indexOf(node);
    if (at >= 0) {
      found.push([...stack.slice(at), node]);
      return;
    }
    if (done.has(node)) return;
    stack.push(node);
    for (const next of edges.get(node) ?? []) visit(next);
    stack.pop();
    done.add(node);
  };
  for (const node of edges.keys()) visit(node);
  return found;
}

describe('import graph', () => {
  it('reads the imports it checks (the parser is not blind)', () => {
    expect(graph.get('functions/statusPoll.ts')).toContain('shared/app/statusPollJob.ts');
    expect(graph.get('shared/app/consumers.ts')).toContain('shared/runs/consumers.ts');
    expect(graph.size).toBeGreaterThan(100);
  });

  it('knows the layer of every folder', () => {
    const unknown = [...new Set(files.map(folderOf))].filter((f) => layers[f] === undefined);
    expect(unknown, 'add new folders to the layers above').toEqual([]);
  });

  it('resolves every relative import to a file of the app, never to dev/ or test/', () => {
    const wrong = [...graph].flatMap(([from, targets]) =>
      targets
        .filter((t) => !(t.startsWith('shared/') || t.startsWith('functions/')) || !graph.has(t))
        .filter((t) => !t.startsWith('node_modules'))
        .map((t) => `${from} -> ${t}`),
    );
    expect(wrong).toEqual([]);
  });

  it('has no import from a port or mechanism up to a feature, nor from a feature up to app/ or functions/', () => {
    const upward = [...graph].flatMap(([from, targets]) =>
      targets
        .filter((t) => (layers[folderOf(from)] ?? 0) < (layers[folderOf(t)] ?? 0))
        .map((t) => `${from} -> ${t}`),
    );
    expect(upward).toEqual([]);
  });

  it('has no circle between folders', () => {
    const folders = new Map<string, string[]>();
    for (const [from, targets] of graph) {
      const a = folderOf(from);
      const list = folders.get(a) ?? [];
      for (const t of targets) if (folderOf(t) !== a) list.push(folderOf(t));
      folders.set(a, [...new Set(list)]);
    }
    expect(cycles(folders).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('keeps retention an orchestrator: it imports ports and mechanisms only, each store prunes itself', () => {
    const reaching = [...graph]
      .filter(([from]) => folderOf(from) === 'retention')
      .flatMap(([from, targets]) =>
        targets
          .filter((t) => folderOf(t) !== 'retention' && (layers[folderOf(t)] ?? 0) > 1)
          .map((t) => `${from} -> ${t}`),
      );
    expect(reaching).toEqual([]);
  });

  it('has no barrels: every import names the file that declares what it uses', () => {
    // Barrels (index.ts re-exporting a folder) were removed: most imports went around them anyway,
    // a lazy import() of one loaded the whole folder at a cold start, and they hid each file's real
    // dependencies from the circle check above. Import the declaring file instead.
    const barrels = files.filter((f) => /(^|\/)index\.ts$/.test(f));
    expect(barrels).toEqual([]);
  });

  it('has no circle between files', () => {
    expect(cycles(graph).map((c) => c.join(' -> '))).toEqual([]);
  });
});
