// The daily report goes out exactly once: concurrent ticks, a SendGrid failure then success, re-runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOctopusSimulator, type OctopusSimulator } from '../../dev/octopus-sim/index.js';
import { ManualClock } from '../../shared/clock.js';
import { parseCoordinationConfig } from '../../shared/config/loadCoordinationConfig.js';
import { JOBS_TABLE, REPORT_PARTITION } from '../../shared/report/dailyReportJob.js';
import { dailyReportTick } from '../../shared/report/tick.js';
import { createRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { getOrUndefined } from '../../shared/storage/conditional.js';
import { startFakeSendGrid, type FakeSendGrid } from '../helpers/fakeSendGrid.js';
import { reportScenario } from '../helpers/reportDay.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';

let sim: OctopusSimulator;
let sendGrid: FakeSendGrid;

beforeAll(async () => {
  sim = await startOctopusSimulator({ port: 0 });
  sim.loadScenario(
    reportScenario(
      [
        {
          project: 'Web API',
          release: '1.0.0',
          environment: 'Test',
          completedAt: '2026-11-19T10:00:00Z',
          durationSeconds: 60,
        },
        {
          project: 'Web API',
          release: '1.0.0',
          environment: 'Production',
          outcome: 'Failed',
          completedAt: '2026-11-19T12:00:00Z',
          durationSeconds: 60,
        },
        {
          project: 'Web API',
          release: '1.0.1',
          environment: 'Production',
          completedAt: '2026-11-20T09:00:00Z',
          durationSeconds: 60,
        },
      ],
      sim.now(),
    ),
  );
  sendGrid = await startFakeSendGrid();
});

afterAll(async () => {
  await sim?.stop();
  await sendGrid?.stop();
});

/** A runtime like one app instance: its own clock and id, shared storage, the same SendGrid. */
async function instance(clock: ManualClock, tablePrefix: string): Promise<Runtime> {
  return createRuntime({
    env: {
      AzureWebJobsStorage: azuriteConnectionString(),
      OCTOPUS_URL: sim.url,
      OCTOPUS_API_KEY: sim.apiKey,
      SENDGRID_API_KEY: 'SG.test-key-for-the-fake',
      SENDGRID_API_URL: sendGrid.url,
      MAIL_FROM: 'coordinator@example.com',
      REPORT_TIME_ZONE: 'Europe/Berlin',
      REPORT_SEND_TIME: '07:00',
      CATCH_UP_WINDOW_MINUTES: '60',
    },
    clock,
    tablePrefix,
    config: parseCoordinationConfig({ report: { recipients: ['release-managers@example.com'] } }),
  });
}

function mailsFor(date: string): number {
  return sendGrid.received.filter((m) => m.body.subject.includes(date)).length;
}

describe('daily report sending', () => {
  it('does nothing before the local send time', async () => {
    const runtime = await instance(new ManualClock('2026-11-21T05:30:00Z'), uniqueTablePrefix()); // 06:30 Berlin
    expect(await dailyReportTick(runtime)).toEqual([]);
  });

  it('sends once when two instances fire at the same time, and never again on re-runs', async () => {
    const prefix = uniqueTablePrefix();
    const clock = new ManualClock('2026-11-21T06:00:05Z'); // 07:00:05 Berlin
    const [a, b] = await Promise.all([instance(clock, prefix), instance(clock, prefix)]);
    const results = await Promise.all([dailyReportTick(a), dailyReportTick(b)]);
    const outcomes = results
      .flatMap((r) => (r === 'not-configured' ? [] : r.map((s) => s.outcome)))
      .sort();
    expect(outcomes).toHaveLength(2);
    expect(outcomes.filter((o) => o === 'sent')).toHaveLength(1);
    expect(mailsFor('2026-11-20')).toBe(1);

    // A past-due run and a manual re-run later within the window.
    clock.set('2026-11-21T06:40:00Z');
    expect(await dailyReportTick(b)).toEqual([
      expect.objectContaining({ date: '2026-11-20', outcome: 'already-sent' }),
    ]);
    expect(mailsFor('2026-11-20')).toBe(1);

    const mail = sendGrid.received.find((m) => m.body.subject.includes('2026-11-20'));
    expect(mail?.body.personalizations[0]?.to).toEqual([{ email: 'release-managers@example.com' }]);
    expect(mail?.body.content.map((c) => c.type)).toEqual(['text/plain', 'text/html']);
    // The day before came from Octopus; its totals are recorded for the next day's change.
    const row = await getOrUndefined<Record<string, unknown>>(
      await a.tables.table(JOBS_TABLE),
      REPORT_PARTITION,
      '2026-11-20',
    );
    expect(row).toMatchObject({ status: 'sent', attempts: 1, deployments: 1 });
  });

  it('retries a failed SendGrid send on the next tick and records the outcome', async () => {
    const prefix = uniqueTablePrefix();
    const clock = new ManualClock('2026-11-20T06:00:10Z'); // report of the 19th
    const runtime = await instance(clock, prefix);
    const before = mailsFor('2026-11-19');
    sendGrid.failNext(503);

    const first = await dailyReportTick(runtime);
    expect(first).toEqual([expect.objectContaining({ date: '2026-11-19', outcome: 'failed' })]);
    const table = await runtime.tables.table(JOBS_TABLE);
    expect(await getOrUndefined(table, REPORT_PARTITION, '2026-11-19')).toMatchObject({
      status: 'failed',
      attempts: 1,
    });
    expect(mailsFor('2026-11-19')).toBe(before);

    clock.set('2026-11-20T07:00:10Z'); // the next hourly tick
    const second = await dailyReportTick(runtime);
    expect(second).toEqual([expect.objectContaining({ date: '2026-11-19', outcome: 'sent' })]);
    expect(await getOrUndefined(table, REPORT_PARTITION, '2026-11-19')).toMatchObject({
      status: 'sent',
      attempts: 2,
      lastError: '',
    });
    expect(mailsFor('2026-11-19')).toBe(before + 1);

    clock.set('2026-11-20T08:00:10Z');
    expect(await dailyReportTick(runtime)).toEqual([
      expect.objectContaining({ outcome: 'already-sent' }),
    ]);
    expect(mailsFor('2026-11-19')).toBe(before + 1);
  });

  it('records a slot missed outside the catch-up window instead of sending it late', async () => {
    const runtime = await instance(new ManualClock('2026-11-21T09:30:00Z'), uniqueTablePrefix()); // 10:30 Berlin
    expect(await dailyReportTick(runtime)).toEqual([
      expect.objectContaining({ date: '2026-11-20', outcome: 'missed' }),
    ]);
  });

  it('never resends after an attempt stopped between intent and outcome', async () => {
    const prefix = uniqueTablePrefix();
    const clock = new ManualClock('2026-11-21T06:00:05Z');
    const runtime = await instance(clock, prefix);
    const table = await runtime.tables.table(JOBS_TABLE);
    await table.createEntity({
      partitionKey: REPORT_PARTITION,
      rowKey: '2026-11-20',
      status: 'sending',
      attempts: 1,
      owner: 'crashed-instance',
      leaseUntil: new Date('2026-11-21T06:00:00Z'),
      zone: 'Europe/Berlin',
      updatedAt: new Date('2026-11-21T05:59:00Z'),
    });
    const before = sendGrid.received.length;
    expect(await dailyReportTick(runtime)).toEqual([
      expect.objectContaining({ outcome: 'unknown' }),
    ]);
    expect(sendGrid.received.length).toBe(before);
    expect(await getOrUndefined(table, REPORT_PARTITION, '2026-11-20')).toMatchObject({
      status: 'unknown',
    });
  });
});
