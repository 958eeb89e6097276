// Issue 19 item 2: an acknowledged event is stored or kept where it survives; nothing blocks the
// events behind it; the held buffer is bounded (past it: 503 + Retry-After); health counts it.
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { afterEach, describe, expect, it } from 'vitest';
import { coordinationConfigSchema } from '../../shared/config/coordination/schema.js';
import { checkHealth } from '../../shared/health/health.js';
import { receiveOctopusEvent } from '../../shared/app/webhook.js';
import { eventPartition, eventsTable } from '../../shared/events/store.js';
import {
  heldEventStats,
  maxHeldEvents,
  storeHeldEvents,
  unstoredEventCount,
} from '../../shared/events/unstored.js';
import { jsonApi } from '../../shared/http/handler.js';
import { silentLog } from '../../shared/runtime/log.js';
import { createRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { listDeadLetters } from '../../shared/storage/deadLetters.js';
import { listPartition } from '../../shared/storage/conditional.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';

const secret = 'faults-webhook-secret';
const header = 'X-Coordinator-Secret';

async function runtime(connectionString = azuriteConnectionString()): Promise<Runtime> {
  return createRuntime({
    env: {
      AzureWebJobsStorage: connectionString,
      WEBHOOK_SECRET: secret,
      WEBHOOK_SECRET_HEADER: header,
    },
    config: coordinationConfigSchema.parse({}),
    tablePrefix: uniqueTablePrefix(),
  });
}

function payload(id: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    Timestamp: '2026-12-01T10:00:00Z',
    EventType: 'SubscriptionPayload',
    Payload: {
      BatchId: 'b-1',
      Event: {
        Id: id,
        Category: 'DeploymentSucceeded',
        Occurred: '2026-12-01T10:00:00Z',
        RelatedDocumentIds: ['Deployments-1', 'Projects-1', 'Environments-1'],
        SpaceId: 'Spaces-1',
        ...extra,
      },
    },
  });
}

function post(rt: Runtime, body: string): Promise<HttpResponseInit> {
  const request = new HttpRequest({
    method: 'POST',
    url: 'http://127.0.0.1/api/octopus/events',
    headers: { 'content-type': 'application/json', [header]: secret },
    body: { string: body },
  });
  return Promise.resolve(
    jsonApi((r) => receiveOctopusEvent(rt, r, silentLog))(request, new InvocationContext()),
  );
}

/** A payload whose event carries a value nested `depth` levels deep (as text: too deep to build with JSON.stringify). */
function deepPayload(id: string, depth: number): string {
  const body = payload(id, { Deep: '__DEEP__' });
  return body.replace('"__DEEP__"', `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
}

let runtimes: Runtime[] = [];
afterEach(() => {
  runtimes = [];
});

describe('unstorable authenticated events', () => {
  it('an Event.Id of 100,000 characters is stored reduced under a derived key, not held', async () => {
    const rt = await runtime();
    runtimes.push(rt);
    const res = await post(rt, payload(`Events-${'9'.repeat(100_000)}`));
    expect(res.status).toBe(202);
    expect(res.jsonBody).toMatchObject({ outcome: 'stored' });
    expect(unstoredEventCount(rt)).toBe(0);
    // A normal event right behind it is stored too.
    const next = await post(rt, payload('Events-2'));
    expect(next.jsonBody).toMatchObject({ outcome: 'stored' });
    const rows = await listPartition(await rt.tables.table(eventsTable), eventPartition);
    expect(rows).toHaveLength(2);
  });

  it('a body nested 5,000 levels deep is stored or set aside with the reason, never held', async () => {
    const rt = await runtime();
    runtimes.push(rt);
    const res = await post(rt, deepPayload('Events-3', 5000));
    expect(res.status).toBeLessThan(500);
    expect(unstoredEventCount(rt)).toBe(0);
    const next = await post(rt, payload('Events-4'));
    expect(next.jsonBody).toMatchObject({ outcome: 'stored' });
    const rows = await listPartition(await rt.tables.table(eventsTable), eventPartition);
    const letters = await listDeadLetters(rt.tables, eventsTable);
    expect(rows.length + letters.length).toBe(2);
  });
});

describe('the held buffer during a storage outage', () => {
  it('is bounded: past it the webhook answers 503 with Retry-After, and health shows the count', async () => {
    // Nothing listens on port 9: every storage call fails fast, as in an outage.
    const rt = await runtime(
      'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:9/devstoreaccount1;',
    );
    runtimes.push(rt);
    let refused: HttpResponseInit | undefined;
    for (let i = 1; i <= maxHeldEvents + 1; i++) {
      const res = await post(rt, payload(`Events-${i}`));
      if (res.status === 503) {
        refused = res;
        break;
      }
      expect(res.jsonBody).toMatchObject({ outcome: 'held' });
    }
    expect(refused?.status).toBe(503);
    expect(refused?.headers).toMatchObject({ 'Retry-After': expect.any(String) as string });
    expect(heldEventStats(rt).count).toBe(maxHeldEvents);
    const health = await checkHealth(rt, 'test');
    expect(health.events.held).toBe(maxHeldEvents);
  }, 60_000);

  it('writes held events when storage answers again, in order, without a poison one blocking the rest', async () => {
    const rt = await runtime(
      'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:9/devstoreaccount1;',
    );
    for (const id of ['Events-10', `Events-${'8'.repeat(100_000)}`, 'Events-11'])
      expect((await post(rt, payload(id))).jsonBody).toMatchObject({ outcome: 'held' });
    // Storage comes back: the same runtime, pointed at the real Azurite.
    const healthy = await runtime();
    Object.assign(rt, { tables: healthy.tables });
    expect(await storeHeldEvents(rt, silentLog)).toBe(3);
    expect(unstoredEventCount(rt)).toBe(0);
  }, 60_000);
});
