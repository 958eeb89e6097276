// The PowerShell step templates, run by pwsh as Tentacle would (reduced bootstrap: $OctopusParameters,
// Set-OctopusVariable, Fail-Step) against the dev host and its simulator, in an untenanted and a
// tenanted deployment, like the Bash ones in cooperation-templates.test.ts. Skipped, with the reason,
// when pwsh is missing (.ci/run installs it into .tools/pwsh).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevHostProcess, type DevHostProcess } from '../helpers/devHostProcess.js';
import { deploymentVariables, findPwsh, OctopusDeploymentRun } from '../helpers/stepTemplate.js';

const pwsh = findPwsh();
let dev: DevHostProcess | undefined;

const run = (tenant?: string) =>
  new OctopusDeploymentRun(
    deploymentVariables({ project: 'Shop', environment: 'Test', ...(tenant ? { tenant } : {}) }),
    { 'Coordinator.Url': dev?.url ?? '' },
  );

describe.skipIf(!('path' in pwsh))('step templates (PowerShell) against the dev host', () => {
  beforeAll(async () => {
    dev = await startDevHostProcess({ args: ['--no-timers'] });
  }, 120_000);
  afterAll(async () => {
    await dev?.stop();
  });

  it('ensure-deployed works untenanted (the tenant default resolves to none) and tenanted', async () => {
    const untenanted = await run().runStep(
      'coordinator-ensure-deployed-powershell.json',
      'Ensure database',
      { 'Coordinator.Project': 'Database' },
    );
    expect(untenanted.stderr).toBe('');
    expect(untenanted.stdout).toMatch(/Database 1\.6\.0 is already deployed to Test\./);
    expect(untenanted.code).toBe(0);
    const tenanted = await run('Acme Corp').runStep(
      'coordinator-ensure-deployed-powershell.json',
      'Ensure worker',
      { 'Coordinator.Project': 'Billing Worker' },
    );
    expect(tenanted.stdout).toMatch(
      /Billing Worker 1\.0\.0 is already deployed to Test for Acme Corp/,
    );
    expect(tenanted.code).toBe(0);
  }, 120_000);

  it.each([
    ['untenanted', undefined],
    ['tenanted', 'Acme Corp'],
  ])(
    'in a %s deployment: acquire sets outputs, release (by step name) frees the lock',
    async (kind, tenant) => {
      const deployment = run(tenant);
      const acquired = await deployment.runStep(
        'coordinator-acquire-lock-powershell.json',
        'Take the lock',
        { 'CoordinatorLock.Name': `ps-shop-${kind}` },
      );
      expect(acquired.code, acquired.stderr).toBe(0);
      expect(acquired.outputs.CoordinatorLeaseId).toBeTruthy();
      const lock = (await (await fetch(`${dev?.url}/api/locks/ps-shop-${kind}`)).json()) as {
        holders: { holder: string }[];
      };
      expect(lock.holders[0]?.holder).not.toMatch(/#\{/);
      if (tenant) expect(lock.holders[0]?.holder).toMatch(/for Acme Corp/);
      const released = await deployment.runStep(
        'coordinator-release-lock-powershell.json',
        'Free the lock',
        { 'CoordinatorLock.AcquireStep': 'Take the lock' },
      );
      expect(released.code, released.stderr).toBe(0);
      expect(released.stdout).toMatch(/ps-shop-[a-z]+/);
      const after = (await (await fetch(`${dev?.url}/api/locks/ps-shop-${kind}`)).json()) as {
        holders: unknown[];
      };
      expect(after.holders).toEqual([]);
    },
    120_000,
  );
});

// Without pwsh: one skipped test that says why.
if ('reason' in pwsh)
  describe('step templates (PowerShell)', () => {
    it.skip(`run against the dev host: ${pwsh.reason}`, () => undefined);
  });
