// Events stored at the same moment share one insert transaction (group commit), and each caller still
// gets the answer a lone insert gives it: stored, duplicate, or the storage refusal of its own event.
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { setTimeout as pause } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { coordinationConfigSchema } from '../../shared/config/coordination/schema.js';
import {
  eventRowKey,
  eventsTable,
  readStoredEvent,
  storeEventOnce,
  type StoreOutcome,
} from '../../shared/events/store.js';
import type { OctopusWebhookEvent } from '../../shared/events/payload.js';
import { createRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { TableStore } from '../../shared/storage/tableStore.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';
import { deploySucceededEvent } from '../helpers/webhookEvents.js';

let nextId = 8_100_000;

function runtime(): Promise<Runtime> {
  return createRuntime({
    env: { AzureWebJobsStorage: azuriteConnectionString(), WEBHOOK_SECRET: 's' },
    config: coordinationConfigSchema.parse({}),
    tablePrefix: uniqueTablePrefix(),
  });
}

const event = (id = `Events-${nextId++}`, message?: string): OctopusWebhookEvent =>
  deploySucceededEvent(id, message);

const receipt = () => ({ receivedAt: new Date(), receivedBy: 'test' });

async function settle(
  work: Promise<StoreOutcome>[],
): Promise<(StoreOutcome['kind'] | 'refused')[]> {
  const results = await Promise.allSettled(work);
  return results.map((r) => (r.status === 'fulfilled' ? r.value.kind : 'refused'));
}

describe('storing events together', () => {
  it('stores 30 events asked for at once in fewer requests than events, each readable', async () => {
    const rt = await runtime();
    await rt.tables.table(eventsTable);
    rt.tables.roundTrips.reset();
    const events = Array.from({ length: 30 }, () => event());
    const kinds = await settle(events.map((e) => storeEventOnce(rt.tables, e, receipt())));
    expect(kinds).toEqual(Array(30).fill('stored'));
    expect(rt.tables.roundTrips.count).toBeLessThan(30);
    expect(rt.tables.roundTrips.byKind.get('$batch POST')).toBeGreaterThan(0);
    for (const e of events) {
      const row = await readStoredEvent(rt.tables, eventRowKey(e.Id));
      expect(row?.event.Id).toBe(e.Id);
      expect(row?.processed).toBe(false);
    }
  });

  it('an event stored before, and the same event twice at once, are duplicates; the rest are stored', async () => {
    const rt = await runtime();
    const old = event();
    expect((await storeEventOnce(rt.tables, old, receipt())).kind).toBe('stored');
    const twice = event();
    const fresh = Array.from({ length: 5 }, () => event());
    const kinds = await settle([
      storeEventOnce(rt.tables, fresh[0] as OctopusWebhookEvent, receipt()),
      storeEventOnce(rt.tables, old, receipt()),
      storeEventOnce(rt.tables, twice, receipt()),
      storeEventOnce(rt.tables, twice, receipt()),
      ...fresh.slice(1).map((e) => storeEventOnce(rt.tables, e, receipt())),
    ]);
    expect(kinds).toEqual([
      'stored',
      'duplicate',
      'stored',
      'duplicate',
      'stored',
      'stored',
      'stored',
      'stored',
    ]);
    for (const e of [...fresh, twice])
      expect((await readStoredEvent(rt.tables, eventRowKey(e.Id)))?.event.Id).toBe(e.Id);
  });

  it('an insert storage never answers does not hold back the events stored after it', async () => {
    // A proxy in front of Azurite that swallows the first insert into the events table.
    const target = new URL(/TableEndpoint=([^;]+)/.exec(azuriteConnectionString())?.[1] ?? '');
    let swallow = false;
    let swallowed: IncomingMessage | undefined;
    const proxy = createServer((req, res) => {
      if (swallow && req.method === 'POST' && /events/.test(req.url ?? '')) {
        swallow = false;
        swallowed = req;
        return;
      }
      const forward = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          path: req.url,
          method: req.method,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 500, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(forward);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const address = proxy.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const tables = new TableStore(
      {
        kind: 'connectionString',
        connectionString: azuriteConnectionString().replace(
          /TableEndpoint=[^;]+/,
          `TableEndpoint=http://127.0.0.1:${port}${target.pathname}`,
        ),
      },
      uniqueTablePrefix(),
    );
    try {
      await tables.table(eventsTable);
      swallow = true;
      const hung = storeEventOnce(tables, event(), receipt()).catch(() => 'failed');
      while (!swallowed) await pause(10);
      const later = event();
      expect((await storeEventOnce(tables, later, receipt())).kind).toBe('stored');
      expect((await readStoredEvent(tables, eventRowKey(later.Id)))?.event.Id).toBe(later.Id);
      proxy.closeAllConnections();
      await hung;
    } finally {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    }
  }, 30_000);
});
