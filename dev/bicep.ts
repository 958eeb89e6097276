// The real Bicep compiler, restored from NuGet (Azure.Bicep.CommandLine.<rid>) by the tiny project
// infra/bicep/bicep.csproj with the .NET SDK's `dotnet restore`, into .tools/nuget. Used by
// `npm run infra:check` (dev/infraCheck.ts) and by the infra tests, which report themselves skipped with
// the reason when the CLI cannot be had (no .NET SDK, no NuGet feed, an unsupported platform).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type BicepCli = { ok: true; path: string; version: string } | { ok: false; reason: string };

export interface BicepDiagnostic {
  file: string;
  line: number;
  column: number;
  level: 'Error' | 'Warning' | 'Info';
  code: string;
  message: string;
}

function runtimeId(): string | undefined {
  const arch = process.arch === 'x64' ? 'x64' : process.arch === 'arm64' ? 'arm64' : undefined;
  if (!arch) return undefined;
  if (process.platform === 'linux') return `linux-${arch}`;
  if (process.platform === 'darwin') return `osx-${arch}`;
  if (process.platform === 'win32') return `win-${arch}`;
  return undefined;
}

/** Version pinned in infra/bicep/bicep.csproj. */
export function pinnedBicepVersion(root: string): string {
  const project = readFileSync(join(root, 'infra', 'bicep', 'bicep.csproj'), 'utf8');
  const version = /<BicepVersion>([^<]+)<\/BicepVersion>/.exec(project)?.[1];
  if (!version) throw new Error('infra/bicep/bicep.csproj names no <BicepVersion>');
  return version;
}

/**
 * Find the Bicep CLI under .tools/nuget, restoring it first if it is not there yet. Never throws: when
 * the CLI cannot be had, the answer says why.
 */
export function findOrRestoreBicep(root: string, log: (line: string) => void = () => {}): BicepCli {
  const rid = runtimeId();
  if (!rid)
    return { ok: false, reason: `no Bicep CLI package for ${process.platform}-${process.arch}` };
  const version = pinnedBicepVersion(root);
  const packages = join(root, '.tools', 'nuget');
  const exe = join(
    packages,
    `azure.bicep.commandline.${rid}`,
    version,
    'tools',
    process.platform === 'win32' ? 'bicep.exe' : 'bicep',
  );
  if (!existsSync(exe)) {
    const dotnet = spawnSync('dotnet', ['--version'], { encoding: 'utf8' });
    if (dotnet.error || dotnet.status !== 0)
      return {
        ok: false,
        reason:
          'the .NET SDK (`dotnet`) is not installed, so the Bicep CLI cannot be restored from NuGet',
      };
    log(`infra: restoring Azure.Bicep.CommandLine.${rid} ${version} from NuGet`);
    const restore = spawnSync(
      'dotnet',
      [
        'restore',
        join(root, 'infra', 'bicep', 'bicep.csproj'),
        '--packages',
        packages,
        `-p:BicepRuntimeId=${rid}`,
        '--nologo',
        '--verbosity',
        'quiet',
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1' },
      },
    );
    if (restore.status !== 0 || !existsSync(exe))
      return {
        ok: false,
        reason: `dotnet restore of the Bicep CLI failed: ${`${restore.stdout ?? ''}${restore.stderr ?? ''}`.trim().slice(0, 400) || `exit ${restore.status}`}`,
      };
  }
  if (process.platform !== 'win32') chmodSync(exe, 0o755);
  const probe = spawnSync(exe, ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0)
    return { ok: false, reason: `${exe} --version failed: ${(probe.stderr ?? '').trim()}` };
  return { ok: true, path: exe, version: probe.stdout.trim() };
}

/** Parse `file(line,col) : Level code: message` lines as `bicep build` and `bicep lint` print them. */
export function parseDiagnostics(output: string): BicepDiagnostic[] {
  const found: BicepDiagnostic[] = [];
  for (const line of output.split(/\r?\n/)) {
    const m = /^(.+)\((\d+),(\d+)\) : (Error|Warning|Info) ([A-Za-z0-9-]+): (.*)$/.exec(
      line.trim(),
    );
    if (!m) continue;
    found.push({
      file: m[1] ?? '',
      line: Number(m[2]),
      column: Number(m[3]),
      level: m[4] as BicepDiagnostic['level'],
      code: m[5] ?? '',
      message: m[6] ?? '',
    });
  }
  return found;
}

export interface BicepRun {
  status: number;
  diagnostics: BicepDiagnostic[];
  stdout: string;
  stderr: string;
}

function runBicep(cli: string, args: string[], cwd: string): BicepRun {
  const result = spawnSync(cli, args, {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1' },
  });
  return {
    status: result.status ?? 1,
    diagnostics: parseDiagnostics(`${result.stdout ?? ''}\n${result.stderr ?? ''}`),
    stdout: result.stdout ?? '',
    stderr: result.stderr ?? '',
  };
}

/** `bicep build <file> --stdout`: the ARM JSON (when it compiled) and every diagnostic. */
export function bicepBuild(
  cli: string,
  root: string,
  file = 'infra/main.bicep',
): BicepRun & { template: unknown } {
  const run = runBicep(cli, ['build', file, '--stdout'], root);
  let template: unknown;
  if (run.status === 0) template = JSON.parse(run.stdout) as unknown;
  return { ...run, template };
}

/** `bicep lint <file>` with the rules and levels of infra/bicepconfig.json. */
export function bicepLint(cli: string, root: string, file = 'infra/main.bicep'): BicepRun {
  return runBicep(cli, ['lint', file], root);
}

/** Errors and warnings fail the check; Info is what bicepconfig.json explicitly accepts. */
export function failing(diagnostics: BicepDiagnostic[]): BicepDiagnostic[] {
  return diagnostics.filter((d) => d.level !== 'Info');
}

export function formatDiagnostic(d: BicepDiagnostic, root: string): string {
  const file = d.file.startsWith(root) ? d.file.slice(root.length + 1) : d.file;
  return `${file}:${d.line}:${d.column} ${d.level} ${d.code}: ${d.message}`;
}
