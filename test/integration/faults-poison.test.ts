// Issue 19 item 1: one event whose id holds a lone UTF-16 surrogate must not stop the status poll.
import { describe, expect, it } from 'vitest';
import { coordinationConfigSchema } from '../../shared/config/coordination/schema.js';
import {
  eventPartition,
  eventRowKey,
  eventsTable,
  storeEventOnce,
} from '../../shared/events/store.js';
import { listDeadLetters } from '../../shared/storage/deadLetters.js';
import { checkHealth } from '../../shared/health/health.js';
import { recordJobRun } from '../../shared/jobs/jobHistory.js';
import { silentLog } from '../../shared/runtime/log.js';
import { createRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { pollOnce } from '../../shared/app/poll.js';
import { encodeKey } from '../../shared/storage/keys.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';

async function runtime(): Promise<Runtime> {
  return createRuntime({
    env: { AzureWebJobsStorage: azuriteConnectionString(), WEBHOOK_SECRET: 's' },
    config: coordinationConfigSchema.parse({}),
    tablePrefix: uniqueTablePrefix(),
  });
}

function event(id: string): Parameters<typeof storeEventOnce>[1] {
  return {
    Id: id,
    Category: 'DeploymentSucceeded',
    Occurred: '2026-12-01T10:00:00Z',
    RelatedDocumentIds: [],
    SpaceId: 'Spaces-1',
  };
}

describe('keys are safe for every operation, not only inserts', () => {
  it('encodes lone surrogates so a key survives URL encoding', () => {
    for (const name of ['Events-\ud800a', 'x\udc00', 'a\ud800\ud800b', '\udfff']) {
      const key = encodeKey(name);
      expect(() => encodeURIComponent(key)).not.toThrow();
    }
    // Well-formed pairs and plain names are unchanged.
    expect(encodeKey('Api 😀')).toBe('Api 😀');
    expect(eventRowKey('Events-12')).toBe('000000000000012');
  });

  it('a stored event with a lone surrogate in its id does not stop the status poll', async () => {
    const rt = await runtime();
    const receipt = { receivedAt: new Date(), receivedBy: 'test' };
    await storeEventOnce(rt.tables, event('Events-\ud800a'), receipt);
    await storeEventOnce(rt.tables, event('Events-5'), receipt);
    const first = await pollOnce(rt, silentLog);
    expect(first.events.processed).toBe(2);
    const second = await pollOnce(rt, silentLog);
    expect(second.events.processed).toBe(0);
  });

  it('a row stored before keys were safe is set aside with the reason, and later polls pass', async () => {
    const rt = await runtime();
    const table = await rt.tables.table(eventsTable);
    const bad = event('Events-\ud800a');
    // What an older version wrote: the raw id in the key (inserts accept it; nothing else does).
    await table.createEntity({
      partitionKey: eventPartition,
      rowKey: 'xEvents-\ud800a',
      eventId: bad.Id,
      category: bad.Category,
      occurred: bad.Occurred,
      spaceId: 'Spaces-1',
      receivedAt: new Date().toISOString(),
      receivedBy: 'old',
      batchId: '',
      event: JSON.stringify(bad),
    });
    await storeEventOnce(rt.tables, event('Events-7'), {
      receivedAt: new Date(),
      receivedBy: 'test',
    });
    const first = await pollOnce(rt, silentLog);
    expect(first.events.setAside).toBe(1);
    const letters = await listDeadLetters(rt.tables, eventsTable);
    expect(letters).toHaveLength(1);
    expect(letters[0]?.rowKey).toBe('xEvents-\ud800a');
    expect(letters[0]?.reason).toMatch(/URI malformed/);
    for (let i = 0; i < 2; i++) {
      const again = await pollOnce(rt, silentLog);
      expect(again.events).toMatchObject({ processed: 0, failed: 0 });
    }
  });

  it('health reports a job that keeps failing, and a status poll that has not succeeded for long', async () => {
    const rt = await runtime();
    const run = (outcome: 'ok' | 'failed' | 'skipped', at: Date) =>
      recordJobRun(rt.tables, {
        job: 'statusPoll',
        startedAt: at.toISOString(),
        finishedAt: at.toISOString(),
        durationMs: 1,
        outcome,
        summary: outcome === 'failed' ? 'URI malformed' : '',
        instance: 'i',
        isPastDue: false,
      });
    const now = Date.now();
    await run('ok', new Date(now - 3 * 60_000));
    for (let i = 2; i >= 0; i--) await run('failed', new Date(now - i * 60_000));
    const failing = await checkHealth(rt, 'test');
    expect(failing.status).toBe('degraded');
    expect(failing.jobs.problems).toMatchObject([{ job: 'statusPoll', failuresInARow: 3 }]);
    // Skips only (another instance's lease never ends): no success for over 10 minutes is stuck too.
    await run('ok', new Date(now - 15 * 60_000));
    await run('skipped', new Date(now));
    const stuck = await checkHealth(rt, 'test');
    expect(stuck.jobs.problems[0]?.problem).toMatch(/no status poll has succeeded since/);
    await run('ok', new Date(now));
    expect((await checkHealth(rt, 'test')).jobs.problems).toEqual([]);
  });
});
