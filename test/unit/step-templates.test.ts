// The Octopus step templates: the shape Octopus imports, and scripts that read only what they declare.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readStepTemplate } from '../helpers/stepTemplate.js';

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
      for (const m of body.matchAll(/get_octopusvariable "([^"]+)"/g)) {
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
});
