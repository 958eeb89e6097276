// First deploy: App Service hands the app the literal `@Microsoft.KeyVault(...)` text until the reference
// resolves (role assignment not yet effective, secret not yet set). The app must still start, say on
// /api/health (503) which setting is unresolved and what to check, skip the jobs that need it with one
// log line, and pick the value up as soon as the platform resolves it, without a restart.
import { HttpRequest, InvocationContext, type Timer } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { health } from '../../functions/health.js';
import type { HealthReport } from '../../shared/health/health.js';
import { listJobRuns } from '../../shared/jobs/jobHistory.js';
import { timerJob } from '../../shared/jobs/timerJob.js';
import { getRuntime, setRuntime } from '../../shared/runtime/runtime.js';
import { azuriteConnectionString } from '../helpers/storage.js';

const timer: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: true },
  scheduleStatus: { last: '', next: '', lastUpdated: '' },
};
const reference = '@Microsoft.KeyVault(VaultName=kv-first;SecretName=octopus-api-key)';
const names = ['AzureWebJobsStorage', 'OCTOPUS_URL', 'OCTOPUS_API_KEY', 'WEBHOOK_SECRET'] as const;
const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));

beforeAll(async () => {
  process.env.AzureWebJobsStorage = azuriteConnectionString();
  process.env.OCTOPUS_URL = 'http://127.0.0.1:9'; // nothing listens: Octopus unreachable, not unconfigured
  process.env.OCTOPUS_API_KEY = reference;
  process.env.WEBHOOK_SECRET = 'first-deploy-webhook-secret-0123456789';
  setRuntime(undefined);
  // Create the table the health check reads, so its 3 s budget is not spent on that under load.
  await (await getRuntime()).tables.table('jobs');
});

afterAll(() => {
  for (const n of names) {
    if (saved[n] === undefined) delete process.env[n];
    else process.env[n] = saved[n];
  }
  setRuntime(undefined);
});

async function getHealth(): Promise<{ status: number; body: HealthReport }> {
  const response = await health(
    new HttpRequest({ method: 'GET', url: 'http://localhost/api/health' }),
    new InvocationContext({ logHandler: () => {} }),
  );
  return { status: response.status ?? 200, body: response.jsonBody as HealthReport };
}

describe('an unresolved Key Vault reference at start', () => {
  it('does not stop the app: /api/health answers 503 naming the setting and what to check', async () => {
    const { status, body } = await getHealth();
    expect(status).toBe(503);
    expect(body.status).toBe('unavailable');
    expect(body.storage.reachable).toBe(true);
    expect(body.unresolvedSettings).toHaveLength(1);
    const [unresolved] = body.unresolvedSettings;
    expect(unresolved).toMatchObject({
      setting: 'OCTOPUS_API_KEY',
      vault: 'kv-first',
      secret: 'octopus-api-key',
    });
    expect(unresolved?.check).toMatch(/Key Vault Secrets User/);
    expect(body.octopus.error).toMatch(/OCTOPUS_API_KEY is an unresolved Key Vault reference/);
    expect(JSON.stringify(body)).not.toContain('first-deploy-webhook-secret');
  });

  it('skips a job that needs it, with one log line, and records the skip', async () => {
    const lines: string[] = [];
    let ran = false;
    const job = timerJob('kvWaitingJob', async () => {
      ran = true;
      return { outcome: 'ok', summary: 'ran' };
    });
    await job(
      timer,
      new InvocationContext({ logHandler: (_level, ...args) => lines.push(args.join(' ')) }),
    );
    expect(ran).toBe(false);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/kvWaitingJob: skipped \(waiting for OCTOPUS_API_KEY/);
    const runs = await listJobRuns((await getRuntime()).tables);
    expect(runs.find((r) => r.job === 'kvWaitingJob')).toMatchObject({ outcome: 'skipped' });
  });

  it('picks the value up when the platform resolves the reference, without a restart', async () => {
    const before = await getRuntime();
    process.env.OCTOPUS_API_KEY = 'API-RESOLVEDKEY000000000000000000';
    const after = await getRuntime();
    expect(after).not.toBe(before);
    expect(after.settings.unresolved).toEqual([]);
    expect(after.octopus).toBeDefined();
    const { status, body } = await getHealth();
    expect(body.unresolvedSettings).toEqual([]);
    expect(status).toBe(200); // degraded (Octopus unreachable here), not unavailable
    let ran = false;
    await timerJob('kvResolvedJob', async () => {
      ran = true;
      return { outcome: 'ok', summary: 'ran' };
    })(timer, new InvocationContext({ logHandler: () => {} }));
    expect(ran).toBe(true);
    expect(await getRuntime()).toBe(after); // no rebuild once nothing is awaited
  });
});
