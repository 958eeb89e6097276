// The azd hooks in infra/hooks, run as azd runs them (plain `node <hook>` with the azd environment in
// process.env), against a fake `azd` and a fake Resource Manager on 127.0.0.1.
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'azd-hooks-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('prepackage hook', () => {
  it('refuses to package without coordination.json, and says how to fix it', () => {
    const clone = join(work, 'clone');
    mkdirSync(join(clone, 'infra', 'hooks'), { recursive: true });
    copyFileSync(
      join(root, 'infra/hooks/prepackage.mjs'),
      join(clone, 'infra/hooks/prepackage.mjs'),
    );
    const run = spawnSync(process.execPath, [join(clone, 'infra/hooks/prepackage.mjs')], {
      cwd: clone,
      encoding: 'utf8',
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/Refusing to deploy: coordination\.json is missing/);
    expect(run.stderr).toMatch(/cp coordination\.example\.json coordination\.json/);
  });
});

describe('postprovision hook', () => {
  let server: Server;
  let endpoint: string;
  const calls: { method: string; url: string; auth: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      calls.push({
        method: req.method ?? '',
        url: req.url ?? '',
        auth: String(req.headers.authorization ?? ''),
      });
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"value":[]}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const address = server.address();
    endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('refreshes the Key Vault references and forgets the secrets it was given, never printing them', async () => {
    const log = join(work, 'azd-calls.log');
    const fakeAzd = join(work, 'azd');
    writeFileSync(
      fakeAzd,
      `#!${process.execPath}
const args = process.argv.slice(2);
require('node:fs').appendFileSync(${JSON.stringify(log)}, JSON.stringify(args) + '\\n');
if (args[0] === 'auth' && args[1] === 'token') process.stdout.write(JSON.stringify({ token: 'fake-arm-token', expiresOn: '' }));
`,
    );
    chmodSync(fakeAzd, 0o755);
    const env = {
      PATH: process.env.PATH,
      AZD_COMMAND: fakeAzd,
      AZURE_RESOURCE_MANAGER_ENDPOINT: endpoint,
      AZURE_SUBSCRIPTION_ID: 'sub-1',
      AZURE_RESOURCE_GROUP: 'rg-coord',
      FUNCTION_APP_NAME: 'func-coordinator-abc',
      OCTOPUS_API_KEY: 'API-GIVENONCE000000000000000000',
      WEBHOOK_SECRET: 'given-once-webhook-secret-value',
      SENDGRID_API_KEY: '',
    };
    // Asynchronous: the fake Resource Manager runs in this process.
    const child = spawn(process.execPath, [join(root, 'infra/hooks/postprovision.mjs')], { env });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const status = await new Promise<number | null>((r) => child.on('close', r));
    expect(output).not.toMatch(/GIVENONCE|given-once-webhook/);
    expect(status, output).toBe(0);
    expect(calls).toEqual([
      {
        method: 'POST',
        url: '/subscriptions/sub-1/resourceGroups/rg-coord/providers/Microsoft.Web/sites/func-coordinator-abc/config/configreferences/appsettings/refresh?api-version=2022-03-01',
        auth: 'Bearer fake-arm-token',
      },
    ]);
    const azdCalls = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as string[]);
    expect(azdCalls.filter((a) => a[0] === 'env')).toEqual([
      ['env', 'set', 'OCTOPUS_API_KEY', ''],
      ['env', 'set', 'WEBHOOK_SECRET', ''],
    ]);
    expect(output).toMatch(/removed from the azd environment: OCTOPUS_API_KEY, WEBHOOK_SECRET/);
  });
});
