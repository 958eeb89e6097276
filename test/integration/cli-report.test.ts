// The coordinator CLI's report command: previews a day, and clear errors (exit 2) for a bad date or zone.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOctopusSimulator, type OctopusSimulator } from '../../dev/octopus-sim/index.js';
import { runCli } from '../../shared/cli/program.js';
import { reportScenario } from '../helpers/reportDay.js';

let sim: OctopusSimulator;
let dir: string;

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0 });
  sim.loadScenario(
    reportScenario(
      [
        {
          project: 'Web API',
          release: '1.0.0',
          environment: 'Test',
          completedAt: '2026-11-20T10:00:00Z',
          durationSeconds: 60,
        },
        {
          project: 'Database',
          release: '2.0.0',
          environment: 'Production',
          outcome: 'Failed',
          completedAt: '2026-11-20T12:00:00Z',
          durationSeconds: 60,
        },
      ],
      sim.now(),
    ),
  );
  dir = await mkdtemp(join(tmpdir(), 'cli-report-'));
  await writeFile(
    join(dir, 'coordination.json'),
    JSON.stringify({ report: { recipients: ['ops@example.com'] } }),
  );
});

afterAll(async () => {
  await sim?.stop();
});

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    out: (t) => (out += t),
    err: (t) => (err += t),
    env: {
      OCTOPUS_URL: sim.url,
      OCTOPUS_API_KEY: sim.apiKey,
      COORDINATION_CONFIG: join(dir, 'coordination.json'),
      REPORT_TIME_ZONE: 'Europe/Berlin',
    },
  });
  return { code, out, err };
}

describe('coordinator report', () => {
  it('prints the text part and writes the HTML for a day', async () => {
    const file = join(dir, 'report.html');
    const run = await cli('report', '--date', '2026-11-20', '--out', file);
    expect(run.code).toBe(0);
    expect(run.out).toContain('Deployments on Friday, 20 November 2026');
    expect(run.out).toContain('FAILURES (1)');
    expect(run.err).toContain(file);
    expect(await readFile(file, 'utf8')).toContain('id="failures"');
  });

  it('previews the email on a dry run without sending', async () => {
    const run = await cli('report', '--date', '2026-11-20', '--zone', 'UTC', '--dry-run');
    expect(run.code).toBe(0);
    expect(run.out).toContain(
      'Dry run: nothing is sent. The daily job would email ops@example.com',
    );
    expect(run.out).toContain('Subject: Deployments 2026-11-20: 2 (50.0% succeeded, 1 failed)');
    expect(run.out).toContain('UTC, 24 hours');
  });

  it('exits 2 with the fix for a bad date or zone', async () => {
    const date = await cli('report', '--date', '2026-11-31');
    expect(date.code).toBe(2);
    expect(date.err).toContain('Option --date: 2026-11-31 is not a day of the calendar');
    const format = await cli('report', '--date', '20.11.2026');
    expect(format.err).toContain('write it as YYYY-MM-DD, for example 2026-11-20');
    const zone = await cli('report', '--date', '2026-11-20', '--zone', 'Berlin');
    expect(zone.code).toBe(2);
    expect(zone.err).toContain('use an IANA name such as Europe/Berlin');
    const missing = await cli('report');
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("required option '--date <YYYY-MM-DD>' not specified");
  });
});

describe('coordinator without COORDINATION_CONFIG', () => {
  it('says that no config was found and how to use the example file as npm start does', async () => {
    let err = '';
    const code = await runCli(['promote', '--promotion', 'nightly', '--dry-run'], {
      out: () => undefined,
      err: (t) => (err += t),
      // No COORDINATION_CONFIG, and no coordination.json where it looks (a path that does not exist).
      env: { OCTOPUS_URL: sim.url, OCTOPUS_API_KEY: sim.apiKey, COORDINATION_CONFIG: '' },
    });
    expect(code).toBe(2);
    expect(err).toContain('No coordination config: coordination.json was not found');
    expect(err).toContain('`npm start` uses coordination.example.json');
    expect(err).toContain('export COORDINATION_CONFIG=coordination.example.json');
  });
});
