// Run a Bash step template's script the way Octopus and Tentacle do, for tests against the dev host.
// Variables go through Octostache's rules (test/helpers/octostache.ts): an unknown `#{…}` stays
// literal, `#{if}` works; output variables are read by step name (`Octopus.Action[Step].Output.X`).
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { evaluateAll, type Variables } from './octostache.js';

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

export interface StepResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Output variables the step set (by their short name). */
  outputs: Record<string, string>;
}

/** The system variables of a deployment; a tenanted one adds the tenant variables, an untenanted one has none. */
export function deploymentVariables(options: {
  project: string;
  environment: string;
  release?: string;
  tenant?: string;
  taskId?: string;
  queued?: Date;
}): Variables {
  const vars: Variables = {
    'Octopus.Project.Name': options.project,
    'Octopus.Project.Id': 'Projects-99',
    'Octopus.Environment.Name': options.environment,
    'Octopus.Environment.Id': 'Environments-99',
    'Octopus.Release.Number': options.release ?? '1.0.0',
    'Octopus.Task.Id': options.taskId ?? `ServerTasks-${Math.floor(Math.random() * 1e9)}`,
    'Octopus.Deployment.Id': 'Deployments-99',
    'Octopus.Deployment.Created': (options.queued ?? new Date()).toISOString(),
    'Octopus.Deployment.QueueTime': (options.queued ?? new Date()).toISOString(),
    'Octopus.Machine.Name': 'web-01',
    'Octopus.Machine.Id': 'Machines-1',
  };
  if (options.tenant) {
    vars['Octopus.Deployment.Tenant.Name'] = options.tenant;
    vars['Octopus.Deployment.Tenant.Id'] = 'Tenants-99';
  }
  return vars;
}

/**
 * One Octopus deployment: its variables, and the output variables its steps leave behind.
 * `runStep` runs a template as a step of that name: parameters start from the template's defaults
 * (overridden by `parameters`), every value is evaluated by Octostache's rules, and the step's
 * `set_octopusvariable` calls become `Octopus.Action[<step name>].Output.<name>` for later steps.
 */
export class OctopusDeploymentRun {
  readonly variables: Variables;
  /** Parameter values given on every step (e.g. Coordinator.Url); a step's own values win. */
  readonly stepParameters: Record<string, string>;

  constructor(variables: Variables, stepParameters: Record<string, string> = {}) {
    this.variables = { ...variables };
    this.stepParameters = { ...stepParameters };
  }

  async runStep(
    file: string,
    stepName: string,
    parameters: Record<string, string> = {},
  ): Promise<StepResult> {
    const template = readStepTemplate(file);
    const vars: Variables = { ...this.variables };
    for (const p of template.Parameters)
      vars[p.Name] = parameters[p.Name] ?? this.stepParameters[p.Name] ?? p.DefaultValue;
    Object.assign(vars, parameters, {
      'Octopus.Step.Name': stepName,
      'Octopus.Action.Name': stepName,
      'Octopus.Action.Id': `Actions-${stepName.length}`,
    });
    const body = template.Properties['Octopus.Action.Script.ScriptBody'] ?? '';
    const result = file.endsWith('-powershell.json')
      ? await runPowerShell(body, evaluateAll(vars))
      : await runScript(body, evaluateAll(vars));
    for (const [name, value] of Object.entries(result.outputs)) {
      this.variables[`Octopus.Action[${stepName}].Output.${name}`] = value;
    }
    // Octopus records each step's outcome for later steps.
    this.variables[`Octopus.Step[${stepName}].Status.Code`] =
      result.code === 0 ? 'Succeeded' : 'Failed';
    return result;
  }
}

/**
 * Run a Bash step template's script alone (one step of a deployment with these variables), the
 * parameters' defaults evaluated by Octostache's rules.
 */
export function runStepTemplate(
  file: string,
  variables: Record<string, string>,
  stepName = variables['Octopus.Step.Name'] ?? readStepTemplate(file).Name,
): Promise<StepResult> {
  const template = readStepTemplate(file);
  const declared = new Set(template.Parameters.map((p) => p.Name));
  const parameters = Object.fromEntries(Object.entries(variables).filter(([k]) => declared.has(k)));
  return new OctopusDeploymentRun(variables, parameters).runStep(file, stepName);
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/**
 * PowerShell 7 (`pwsh`): PWSH, else the copy .ci/run installs (`.tools/pwsh/pwsh`, the NuGet dotnet
 * tool PowerShell 7.6.9), else the PATH. `reason` says why there is none.
 */
export function findPwsh(): { path: string } | { reason: string } {
  const candidates = [process.env.PWSH, resolve('.tools/pwsh/pwsh'), 'pwsh'].filter(
    (c): c is string => !!c && (!c.includes('/') || existsSync(c)),
  );
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, ['-NoLogo', '-NoProfile', '-Command', '$PSVersionTable.PSVersion'], {
        stdio: 'ignore',
        timeout: 60_000,
      });
      return { path: candidate };
    } catch {
      // not this one
    }
  }
  return {
    reason:
      'pwsh not found: .ci/run installs it into .tools/pwsh (dotnet tool install --tool-path .tools/pwsh PowerShell --version 7.6.9), or set PWSH',
  };
}

let pwshFound: ReturnType<typeof findPwsh> | undefined;

/**
 * Tentacle's PowerShell bootstrap, reduced: $OctopusParameters, Set-OctopusVariable (service message),
 * Fail-Step (result message, exit 1); then the script, run by pwsh as a file.
 */
function runPowerShell(body: string, values: Variables): Promise<StepResult> {
  pwshFound ??= findPwsh();
  const pwsh = pwshFound;
  if (!('path' in pwsh)) throw new Error(pwsh.reason);
  const fromB64 = (v: string) =>
    `[Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('${b64(v)}'))`;
  const prelude = [
    '$ErrorActionPreference = "Stop"',
    '$OctopusParameters = New-Object "System.Collections.Generic.Dictionary[string,string]"',
    ...Object.entries(values).map(([k, v]) => `$OctopusParameters[${fromB64(k)}] = ${fromB64(v)}`),
    'function Set-OctopusVariable([string]$name, [string]$value) { $n = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($name)); $v = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($value)); Write-Host "##octopus[setVariable name=' +
      "'$n' value='$v'" +
      ']" }',
    'function Fail-Step([string]$message) { $m = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($message)); Write-Host "##octopus[resultMessage message=' +
      "'$m'" +
      ']"; [Console]::Error.WriteLine($message); exit 1 }',
  ].join('\n');
  const dir = mkdtempSync(join(tmpdir(), 'step-template-ps-'));
  const path = join(dir, 'script.ps1');
  writeFileSync(path, `${prelude}\n${body}`);
  return new Promise((done) => {
    execFile(
      pwsh.path,
      ['-NoLogo', '-NoProfile', '-NonInteractive', '-File', path],
      { maxBuffer: 10 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const outputs: Record<string, string> = {};
        const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
        for (const m of stdout.matchAll(
          /^##octopus\[setVariable name='([^']*)' value='([^']*)'\]\r?$/gm,
        ))
          outputs[unb64(m[1] ?? '')] = unb64(m[2] ?? '');
        done({
          code: err ? (typeof err.code === 'number' ? err.code : 1) : 0,
          stdout,
          stderr,
          outputs,
        });
      },
    );
  });
}

/** Tentacle's Bash bootstrap, reduced: get_octopusvariable, set_octopusvariable (service messages), fail_step. */
function runScript(body: string, values: Variables): Promise<StepResult> {
  const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  const prelude = [
    'declare -A OCTO_VARS',
    ...Object.entries(values).map(([k, v]) => `OCTO_VARS[${quote(b64(k))}]=${quote(v)}`),
    'get_octopusvariable() { local k; k=$(printf "%s" "$1" | base64 -w0); printf "%s" "${OCTO_VARS[$k]-}"; }',
    `set_octopusvariable() { echo "##octopus[setVariable name='$(printf "%s" "$1" | base64 -w0)' value='$(printf "%s" "$2" | base64 -w0)']"; }`,
    `write_warning() { echo "##octopus[stdout-warning]"; echo "$1"; echo "##octopus[stdout-default]"; }`,
    `fail_step() { echo "##octopus[resultMessage message='$(printf "%s" "$1" | base64 -w0)']"; echo "$1" >&2; exit 1; }`,
  ].join('\n');
  const dir = mkdtempSync(join(tmpdir(), 'step-template-'));
  const path = join(dir, 'script.sh');
  writeFileSync(path, `${prelude}\n${body}`);
  return new Promise((done) => {
    execFile('bash', [path], { maxBuffer: 10 * 1024 * 1024 }, (err, stdout, stderr) => {
      const outputs: Record<string, string> = {};
      const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
      for (const m of stdout.matchAll(
        /^##octopus\[setVariable name='([^']*)' value='([^']*)'\]$/gm,
      ))
        outputs[unb64(m[1] ?? '')] = unb64(m[2] ?? '');
      done({
        code: err ? (typeof err.code === 'number' ? err.code : 1) : 0,
        stdout,
        stderr,
        outputs,
      });
    });
  });
}
