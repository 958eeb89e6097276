// The webhook's part of the process-wide runtime (getCoreRuntime): checked like the whole runtime,
// and the same object the whole runtime completes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CoordinationConfigError } from '../../shared/config/loadCoordinationConfig.js';
import { getCoreRuntime, getRuntime, setRuntime } from '../../shared/runtime/runtime.js';

const names = [
  'COORDINATION_CONFIG',
  'OCTOPUS_URL',
  'OCTOPUS_API_KEY',
  'AzureWebJobsStorage',
  'REPORT_TIME_ZONE',
] as const;

describe('getCoreRuntime', () => {
  let dir: string;
  const saved = new Map<string, string | undefined>();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'runtime-core-'));
    for (const name of names) saved.set(name, process.env[name]);
    for (const name of names) delete process.env[name];
    setRuntime(undefined);
  });

  afterEach(() => {
    setRuntime(undefined);
    for (const name of names) {
      const value = saved.get(name);
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports a bad config with its JSON path, as getRuntime does', async () => {
    const file = join(dir, 'coordination.json');
    writeFileSync(
      file,
      JSON.stringify({
        projectSets: { web: { projects: ['A', 'B'], dependsOn: { B: ['C'] } } },
      }),
    );
    process.env.COORDINATION_CONFIG = file;
    const core = getCoreRuntime();
    await expect(core).rejects.toBeInstanceOf(CoordinationConfigError);
    await expect(core).rejects.toThrow(/\$\.projectSets\.web\.dependsOn\.B\[0\]/);
    const whole = getRuntime();
    await expect(whole).rejects.toBeInstanceOf(CoordinationConfigError);
    await expect(whole).rejects.toThrow(/\$\.projectSets\.web\.dependsOn\.B\[0\]/);
  });

  it('reports a bad setting, as getRuntime does', async () => {
    process.env.REPORT_TIME_ZONE = 'Mars/Olympus';
    process.env.COORDINATION_CONFIG = join(dir, 'none.json');
    await expect(getCoreRuntime()).rejects.toThrow(/REPORT_TIME_ZONE/);
    await expect(getRuntime()).rejects.toThrow(/REPORT_TIME_ZONE/);
  });

  it('is the object getRuntime completes with mail and the Octopus client', async () => {
    const file = join(dir, 'coordination.json');
    writeFileSync(file, JSON.stringify({ projectSets: { web: { projects: ['A'] } } }));
    process.env.COORDINATION_CONFIG = file;
    process.env.OCTOPUS_URL = 'https://octopus.example.com';
    process.env.OCTOPUS_API_KEY = 'API-TESTTESTTESTTESTTESTTESTTEST';
    const core = await getCoreRuntime();
    expect('mailer' in core).toBe(false);
    expect(core.config.projectSets).toHaveProperty('web');
    const whole = await getRuntime();
    expect(whole).toBe(core);
    expect(whole.mailer).toBeDefined();
    expect(whole.octopus).toBeDefined();
    expect(await getCoreRuntime()).toBe(whole);
    expect(await getRuntime()).toBe(whole);
  });

  it('hands out a runtime set with setRuntime as it is', async () => {
    const file = join(dir, 'coordination.json');
    writeFileSync(file, '{}');
    process.env.COORDINATION_CONFIG = file;
    const built = await getRuntime();
    setRuntime(undefined);
    setRuntime(built);
    expect(await getCoreRuntime()).toBe(built);
    expect(await getRuntime()).toBe(built);
  });
});
