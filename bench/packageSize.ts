// Size of the deployment package (`npm run package`): the zip that is uploaded to Azure, the unpacked
// size, the file count, and the largest parts (since the app is bundled: the bundle's entry, its chunks,
// host.json and package.json; no node_modules). Goal: zip under 25 MB.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPackage } from '../dev/package.js';
import { filesUnder } from '../dev/zip.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = mkdtempSync(join(tmpdir(), 'bench-package-'));
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
try {
  const started = Date.now();
  const result = await buildPackage({ root, outDir: out, log: () => {} });
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  const files = filesUnder(result.appDir);
  const unpacked = files.reduce((n, f) => n + f.data.length, 0);
  const byTop = new Map<string, number>();
  for (const f of files) {
    const parts = f.name.split('/');
    const key = parts.length > 3 ? parts.slice(0, 3).join('/') : f.name;
    byTop.set(key, (byTop.get(key) ?? 0) + f.data.length);
  }
  console.log(`zip:       ${mb(result.zipBytes)} (${result.zipBytes} bytes; goal < 25 MB)`);
  console.log(`unpacked:  ${mb(unpacked)} in ${files.length} files`);
  console.log(`built in:  ${seconds} s (compile + bundle + zip)`);
  console.log('largest parts (unpacked):');
  for (const [name, bytes] of [...byTop.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8))
    console.log(`  ${name.padEnd(32)} ${mb(bytes)}`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
