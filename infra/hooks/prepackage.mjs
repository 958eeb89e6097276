// azd prepackage hook: refuse to package an app that would coordinate nothing, then build the one
// deployment package (`npm run package` -> .package/app, which azure.yaml's `dist` deploys).
// Plain Node, no dependencies: it must run on a clean clone before `npm ci`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const config = join(root, 'coordination.json');

if (!existsSync(config)) {
  console.error(
    [
      'Refusing to deploy: coordination.json is missing, so the app would coordinate nothing.',
      'It is git-ignored and deployed inside the package. Fix:',
      '  cp coordination.example.json coordination.json   # then edit it (see README, "Coordination config")',
      '  azd deploy                                        # or azd up',
    ].join('\n'),
  );
  process.exit(1);
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const run = (args) => {
  const result = spawnSync(npm, args, {
    cwd: root,
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
};
if (!existsSync(join(root, 'node_modules', 'typescript'))) run(['ci', '--no-audit', '--no-fund']);
run(['run', 'package']);
