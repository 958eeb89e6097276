// The Octopus step templates: the shape Octopus imports, and scripts that read only what they declare.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { substitute } from '../helpers/octostache.js';
import { findPwsh, readStepTemplate } from '../helpers/stepTemplate.js';

// PowerShell 7: PWSH, .tools/pwsh (installed by .ci/run) or the PATH.
const pwsh = findPwsh();

const files = readdirSync('infra/octopus/step-templates').filter((f) => f.endsWith('.json'));

describe('step templates', () => {
  it('come as a Bash and a PowerShell version of each', () => {
    const kinds = new Set(files.map((f) => f.replace(/-(bash|powershell)\.json$/, '')));
    expect([...kinds].sort()).toEqual([
      'coordinator-acquire-lock',
      'coordinator-ensure-deployed',
      'coordinator-release-lock',
      'coordinator-wait-for-step',
    ]);
    for (const kind of kinds) {
      expect(files).toEqual(
        expect.arrayContaining([`${kind}-bash.json`, `${kind}-powershell.json`]),
      );
    }
  });

  it.each(files)('%s has the shape Octopus imports', (file) => {
    const t = readStepTemplate(file);
    expect(t.$Meta?.Type).toBe('ActionTemplate');
    expect(t.ActionType).toBe('Octopus.Script');
    expect(t.Name).toMatch(/^Coordinator - /);
    expect(t.Properties['Octopus.Action.Script.ScriptSource']).toBe('Inline');
    expect(t.Properties['Octopus.Action.Script.Syntax']).toBe(
      file.endsWith('-bash.json') ? 'Bash' : 'PowerShell',
    );
    expect(t.Properties['Octopus.Action.Script.ScriptBody']?.length).toBeGreaterThan(100);
    const ids = t.Parameters.map((p) => p.Id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of t.Parameters) {
      expect(p.Name).toMatch(/^Coordinator(Lock)?\./);
      expect(p.Label.length).toBeGreaterThan(0);
      expect(p.DisplaySettings['Octopus.ControlType']).toBeTruthy();
    }
    expect(
      t.Parameters.find((p) => p.Name === 'Coordinator.FunctionKey')?.DisplaySettings[
        'Octopus.ControlType'
      ],
    ).toBe('Sensitive');
  });

  it.each(files.filter((f) => f.endsWith('-bash.json')))(
    '%s reads only declared parameters and Octopus variables, and parses',
    (file) => {
      const t = readStepTemplate(file);
      const body = t.Properties['Octopus.Action.Script.ScriptBody'] ?? '';
      const declared = new Set(t.Parameters.map((p) => p.Name));
      for (const m of body.matchAll(/(?:get_octopusvariable|param) "([^"$]+)"/g)) {
        const name = m[1] ?? '';
        expect(
          declared.has(name) || name.startsWith('Octopus.'),
          `${file} reads undeclared ${name}`,
        ).toBe(true);
      }
      const path = join(mkdtempSync(join(tmpdir(), 'tpl-')), 'script.sh');
      writeFileSync(path, body);
      expect(() => execFileSync('bash', ['-n', path])).not.toThrow();
    },
  );

  it.each(files.filter((f) => /ensure-deployed|wait-for-step/.test(f)))(
    '%s defaults the tenant to none in an untenanted deployment, by Octostache rules',
    (file) => {
      const t = readStepTemplate(file);
      const tenant = t.Parameters.find((p) => p.Name === 'Coordinator.Tenant')?.DefaultValue ?? '';
      // Untenanted: Octopus defines no tenant variables; the old default stayed literal.
      expect(substitute(tenant, {})).toBe('');
      expect(
        substitute(tenant, {
          'Octopus.Deployment.Tenant.Id': 'Tenants-1',
          'Octopus.Deployment.Tenant.Name': 'Acme Corp',
        }),
      ).toBe('Acme Corp');
    },
  );

  it.each(files.filter((f) => f.includes('release-lock')))(
    '%s picks the acquire step with the StepName control and has no guessed default',
    (file) => {
      const p = readStepTemplate(file).Parameters.find(
        (x) => x.Name === 'CoordinatorLock.AcquireStep',
      );
      expect(p?.DisplaySettings['Octopus.ControlType']).toBe('StepName');
      expect(p?.DefaultValue).toBe('');
    },
  );

  it.each(files.filter((f) => f.includes('acquire-lock')))(
    '%s has a Priority parameter',
    (file) => {
      const body = readStepTemplate(file).Properties['Octopus.Action.Script.ScriptBody'] ?? '';
      expect(readStepTemplate(file).Parameters.map((p) => p.Name)).toContain(
        'CoordinatorLock.Priority',
      );
      expect(body).toMatch(/priority/);
    },
  );

  it.each(files.filter((f) => f.endsWith('-powershell.json')))(
    '%s parses as PowerShell and reads only declared parameters and Octopus variables',
    (file) => {
      const t = readStepTemplate(file);
      const body = t.Properties['Octopus.Action.Script.ScriptBody'] ?? '';
      const declared = new Set(t.Parameters.map((p) => p.Name));
      for (const m of body.matchAll(/(?:Get-Param|\$OctopusParameters\[)\s*'([^']+)'/g)) {
        const name = m[1] ?? '';
        expect(
          declared.has(name) || name.startsWith('Octopus.'),
          `${file} reads undeclared ${name}`,
        ).toBe(true);
      }
      if (!('path' in pwsh)) return; // the parse is reported skipped below, with the reason
      const path = join(mkdtempSync(join(tmpdir(), 'tpl-')), 'script.ps1');
      writeFileSync(path, body);
      const check = `$e = $null; [void][System.Management.Automation.Language.Parser]::ParseFile('${path}', [ref]$null, [ref]$e); if ($e.Count) { $e | ForEach-Object { Write-Output $_.ToString() }; exit 1 }`;
      expect(() =>
        execFileSync(pwsh.path, ['-NoLogo', '-NoProfile', '-Command', check], { encoding: 'utf8' }),
      ).not.toThrow();
    },
    120_000, // pwsh starts in about 10 s on a loaded machine
  );

  // Without pwsh the PowerShell templates are only read as text: say so as a skipped test, with why.
  if ('reason' in pwsh) it.skip(`PowerShell templates parse: ${pwsh.reason}`, () => undefined);
});
