import { describe, expect, it } from 'vitest';
import type { ReleaseDeploymentTemplate } from '../../shared/octopus/releases.js';
import { lifecycleVerdict, releaseTemplates } from '../../shared/runs/lifecycle.js';

const env = (id: string, name: string) => ({ Id: `Environments-${id}`, Name: name });
const template: ReleaseDeploymentTemplate = {
  PromoteTo: [env('1', 'Development'), env('2', 'Test')],
  TenantPromotions: [{ Id: 'Tenants-1', Name: 'Acme Corp', PromoteTo: [env('1', 'Development')] }],
};

describe("Octopus's lifecycle as the deployment template says", () => {
  it('allows an untenanted deploy into the environments of PromoteTo only', () => {
    expect(lifecycleVerdict(template, 'Environments-2', null)).toEqual({
      allowed: true,
      allowedEnvironments: ['Development', 'Test'],
    });
    expect(lifecycleVerdict(template, 'Environments-3', null)).toEqual({
      allowed: false,
      allowedEnvironments: ['Development', 'Test'],
    });
  });

  it("follows a tenant's own progression when Octopus lists the tenant", () => {
    expect(lifecycleVerdict(template, 'Environments-2', 'Tenants-1')).toEqual({
      allowed: false,
      allowedEnvironments: ['Development'],
    });
    expect(lifecycleVerdict(template, 'Environments-2', 'Tenants-9').allowed).toBe(true);
  });

  it('reads each release once however many deploys ask, and again after a failed read', async () => {
    const reads: string[] = [];
    let failNext = true;
    const templates = releaseTemplates(async (id) => {
      reads.push(id);
      if (id === 'Releases-2' && failNext) {
        failNext = false;
        throw new Error('Octopus answered 503');
      }
      return template;
    });
    await Promise.all([templates('Releases-1'), templates('Releases-1'), templates('Releases-1')]);
    await expect(templates('Releases-2')).rejects.toThrow('503');
    await templates('Releases-2');
    await templates('Releases-2');
    expect(reads).toEqual(['Releases-1', 'Releases-2', 'Releases-2']);
  });
});
