// Every table the app names is in the storage catalog (shared/storage/tables.ts), and the tables the
// Bicep template creates up front are real ones.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tableNames } from '../../shared/storage/tables.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const catalog: string[] = Object.values(tableNames);

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

describe('storage catalog', () => {
  it('names every table the code opens or declares by a literal', () => {
    const named = new Map<string, string>();
    for (const file of [...sources('shared'), ...sources('functions')]) {
      const text = readFileSync(join(root, file), 'utf8');
      const literals = [
        ...text.matchAll(/\.table\(\s*'([^']+)'/g),
        ...text.matchAll(/(?:const|let)\s+\w*(?:[Tt]able|TABLE)\w*\s*=\s*'([a-z0-9]+)'/g),
      ];
      for (const m of literals) if (m[1]) named.set(m[1], file);
    }
    expect(named.size).toBeGreaterThan(0);
    const missing = [...named].filter(([t]) => !catalog.includes(t)).map(([t, f]) => `${t} (${f})`);
    expect(missing).toEqual([]);
  });

  it('has the Bicep template create only tables the app uses', () => {
    const bicep = readFileSync(join(root, 'infra', 'main.bicep'), 'utf8');
    const list = /param tableNames array = \[([^\]]*)\]/.exec(bicep)?.[1] ?? '';
    const created = [...list.matchAll(/'([^']+)'/g)].map((m) => m[1] ?? '');
    expect(created.length).toBeGreaterThan(0);
    expect(created.filter((t) => !catalog.includes(t))).toEqual([]);
  });
});
