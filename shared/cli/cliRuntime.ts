// The CLI's runtime, with a word on stderr when no coordination config was found (the dev host
// falls back to the example file there; the CLI does not, so it says how to do the same).
import { createRuntime, type Runtime } from '../runtime/runtime.js';
import type { CliIO } from './command.js';

export function missingConfigHint(path: string): string {
  return [
    `No coordination config: ${path} was not found and COORDINATION_CONFIG is not set, so there are no sets, promotions or playbooks.`,
    '`npm start` uses coordination.example.json when there is no coordination.json; to do the same here, run:',
    '  export COORDINATION_CONFIG=coordination.example.json',
    '',
  ].join('\n');
}

export async function createCliRuntime(io: CliIO): Promise<Runtime> {
  const runtime = await createRuntime({ env: io.env });
  if (!runtime.settings.coordinationConfigExplicit && runtime.configSource.startsWith('none'))
    io.err(missingConfigHint(runtime.settings.coordinationConfigPath));
  return runtime;
}
