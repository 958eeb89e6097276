// The test stand-in for Octopus's variable substitution must be as strict as Octostache.
import { describe, expect, it } from 'vitest';
import { evaluateAll, substitute } from '../helpers/octostache.js';

describe('Octostache stand-in', () => {
  it('leaves an unknown variable as written, as Octopus does (OctopusDeploy/Issues#4967)', () => {
    expect(substitute('#{Octopus.Deployment.Tenant.Name}', {})).toBe(
      '#{Octopus.Deployment.Tenant.Name}',
    );
    expect(substitute('a #{X} b #{Y}', { X: '1' })).toBe('a 1 b #{Y}');
  });

  it('evaluates #{if} with an unknown variable as false and Octostache falsy values', () => {
    const t = '#{if Octopus.Deployment.Tenant.Id}#{Octopus.Deployment.Tenant.Name}#{/if}';
    expect(substitute(t, {})).toBe('');
    expect(
      substitute(t, {
        'Octopus.Deployment.Tenant.Id': 'Tenants-1',
        'Octopus.Deployment.Tenant.Name': 'Acme',
      }),
    ).toBe('Acme');
    for (const falsy of ['', '0', 'no', 'False', ' false ']) {
      expect(substitute('#{if F}yes#{else}no#{/if}', { F: falsy })).toBe('no');
    }
    expect(substitute('#{if F}yes#{else}no#{/if}', { F: 'anything' })).toBe('yes');
    expect(substitute('#{unless F}none#{/unless}', {})).toBe('none');
  });

  it('is case-insensitive, evaluates values that refer to others, and keeps ##{ escapes', () => {
    expect(evaluateAll({ A: '#{b}/x', B: 'bee' }).A).toBe('bee/x');
    expect(substitute('##{A}', { A: '1' })).toBe('#{A}');
    expect(
      substitute('#{Octopus.Action[Acquire lock].Output.Lease}', {
        'Octopus.Action[Acquire lock].Output.Lease': 'L1',
      }),
    ).toBe('L1');
  });

  it('leaves a filter expression literal rather than guessing what it returns', () => {
    expect(substitute('#{A | ToUpper}', { A: 'x' })).toBe('#{A | ToUpper}');
  });
});
