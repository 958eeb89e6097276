// Golden files: a rendered output compared byte for byte with a committed file under
// test/fixtures/report-golden/. UPDATE_GOLDEN=1 writes the files instead (review the diff).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'report-golden');

/** Compares with the committed file (writes it instead when UPDATE_GOLDEN=1). */
export function expectGolden(name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  expect(existsSync(file), `golden file ${name} (create it with UPDATE_GOLDEN=1)`).toBe(true);
  const expected = readFileSync(file, 'utf8');
  // On a difference, the text around its first character is easier to read than 200 KB.
  if (actual !== expected) {
    let at = 0;
    while (at < actual.length && actual[at] === expected[at]) at += 1;
    const around = (s: string): string => s.slice(Math.max(0, at - 120), at + 120);
    expect(around(actual), `${name}: first difference at character ${at}`).toBe(around(expected));
  }
  expect(actual.length).toBe(expected.length);
  expect(actual === expected, `${name} differs`).toBe(true);
}
