// `npm run infra:check`: compile infra/main.bicep with the real Bicep CLI (restored from NuGet, see
// dev/bicep.ts) and lint it with the rules of infra/bicepconfig.json. Fails on any error or warning; a
// rule is accepted only by lowering it to "info" or "off" in bicepconfig.json, with the reason there.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bicepBuild, bicepLint, failing, findOrRestoreBicep, formatDiagnostic } from './bicep.js';

function main(): number {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const cli = findOrRestoreBicep(root, (line) => console.log(line));
  if (!cli.ok) {
    console.error(`infra:check: cannot run: ${cli.reason}`);
    return 2;
  }
  console.log(`infra:check: ${cli.version}`);
  const build = bicepBuild(cli.path, root);
  const lint = bicepLint(cli.path, root);
  // build and lint report the same linter findings; show each once.
  const seen = new Set<string>();
  const all = [...build.diagnostics, ...lint.diagnostics].filter((d) => {
    const key = formatDiagnostic(d, root);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  for (const d of all) console.log(`  ${formatDiagnostic(d, root)}`);
  const bad = failing(all);
  if (build.status !== 0 || lint.status !== 0 || bad.length > 0) {
    if (build.status !== 0 && build.diagnostics.length === 0) console.error(build.stderr.trim());
    console.error(
      `infra:check: failed (${bad.length} error(s)/warning(s)); fix them, or accept a rule in infra/bicepconfig.json with the reason`,
    );
    return 1;
  }
  console.log('infra:check: infra/main.bicep builds and lints clean');
  return 0;
}

process.exitCode = main();
