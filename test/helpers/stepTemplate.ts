// Run a Bash step template's script the way Tentacle does, for tests against the dev host.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface StepTemplate {
  Id: string;
  Name: string;
  Description: string;
  ActionType: string;
  Version: number;
  Properties: Record<string, string>;
  Parameters: {
    Id: string;
    Name: string;
    Label: string;
    HelpText: string;
    DefaultValue: string;
    DisplaySettings: Record<string, string>;
  }[];
  $Meta?: { Type?: string };
}

export function readStepTemplate(file: string): StepTemplate {
  return JSON.parse(
    readFileSync(resolve('infra/octopus/step-templates', file), 'utf8'),
  ) as StepTemplate;
}

/**
 * Run a Bash step template's script the way Tentacle does: Octopus variables through
 * get_octopusvariable, output variables through set_octopusvariable (stubbed here; outputs are
 * collected from stdout).
 */
export function runStepTemplate(
  file: string,
  variables: Record<string, string>,
): Promise<{ code: number; stdout: string; outputs: Record<string, string> }> {
  const template = readStepTemplate(file);
  const values: Record<string, string> = {};
  for (const p of template.Parameters) values[p.Name] = p.DefaultValue;
  Object.assign(values, variables);
  // Octopus substitutes #{...} in parameter values before the script runs.
  for (const [k, v] of Object.entries(values))
    values[k] = v.replace(/#\{([^}]+)\}/g, (_, name: string) => values[name] ?? '');
  const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  const prelude = [
    'declare -A OCTO_VARS',
    ...Object.entries(values).map(([k, v]) => `OCTO_VARS[${quote(k)}]=${quote(v)}`),
    'get_octopusvariable() { printf "%s" "${OCTO_VARS[$1]-}"; }',
    'set_octopusvariable() { echo "##output $1=$2"; }',
    'write_warning() { echo "WARNING: $1"; }',
    'fail_step() { echo "FAILED: $1"; exit 1; }',
  ].join('\n');
  const dir = mkdtempSync(join(tmpdir(), 'step-template-'));
  const path = join(dir, 'script.sh');
  writeFileSync(
    path,
    `${prelude}\n${template.Properties['Octopus.Action.Script.ScriptBody'] ?? ''}`,
  );
  return new Promise((done) => {
    execFile('bash', [path], (err, stdout) => {
      const outputs: Record<string, string> = {};
      for (const m of stdout.matchAll(/^##output ([^=]+)=(.*)$/gm))
        outputs[m[1] ?? ''] = m[2] ?? '';
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, outputs });
    });
  });
}
