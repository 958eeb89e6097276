// `npm start` warns when dist/ holds compiled code newer than the bundle the app runs from (tsc run
// alone after an edit): the dev host would otherwise serve the old code without a word.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { staleBundle } from '../../dev/bundle.js';

let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));

function file(path: string, secondsAgo: number): string {
  const full = join(root, path);
  mkdirSync(join(full, '..'), { recursive: true });
  writeFileSync(full, '');
  const at = new Date(Date.now() - secondsAgo * 1000);
  utimesSync(full, at, at);
  return full;
}

describe('staleBundle', () => {
  it('names a compiled file newer than the bundle', () => {
    root = mkdtempSync(join(tmpdir(), 'bundle-stale-'));
    file('dist/app/index.js', 60);
    file('dist/functions/health.js', 120);
    const edited = file('dist/shared/health/health.js', 5);
    expect(staleBundle(root)).toBe(edited);
  });

  it('says nothing when the bundle is newer than everything compiled, or not built', () => {
    root = mkdtempSync(join(tmpdir(), 'bundle-stale-'));
    file('dist/functions/health.js', 120);
    file('dist/shared/health/health.js', 90);
    expect(staleBundle(root)).toBeUndefined();
    file('dist/app/index.js', 60);
    expect(staleBundle(root)).toBeUndefined();
  });
});
