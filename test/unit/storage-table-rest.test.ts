// The REST row insert (shared/storage/tableRest.ts) that replaced @azure/data-tables on the webhook's
// path: the request is the one TableClient.createEntity sends (checked against requests the SDK
// itself sends to a recorder), signed as the SDK signs it, with the SDK's outcomes and retries.
import { createHmac } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { afterEach, describe, expect, it } from 'vitest';
import { storageEndpointFromConnectionString } from '../../shared/storage/restTransport.js';
import { sharedKeyLiteStringToSign, TableInserter } from '../../shared/storage/tableRest.js';
import { closeRecorders, recorder } from '../helpers/storageRecorder.js';

const devKey =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

afterEach(closeRecorders);

const connection = (url: string) =>
  `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${devKey};TableEndpoint=${url}/devstoreaccount1;`;

const row = {
  partitionKey: 'octopus',
  rowKey: '000000000000042',
  eventId: 'Events-42',
  event: JSON.stringify({ Message: 'a<b & "c" ü € \u2028', Id: 'Events-42' }),
};

describe('Table row insert over REST', () => {
  it('sends what TableClient.createEntity sends, signed as the SDK signs it', async () => {
    const etag = `W/"datetime'2026-12-02T10%3A00%3A00.0000000Z'"`;
    const { url, seen } = await recorder([{ status: 204, headers: { etag } }]);
    const sdk = TableClient.fromConnectionString(connection(url), 'events', {
      allowInsecureConnection: true,
      retryOptions: { maxRetries: 0 },
    });
    await sdk.createEntity(row);
    const ours = await TableInserter.create(
      storageEndpointFromConnectionString(connection(url), 'table'),
    );
    expect(await ours.insertIfAbsent('events', row)).toMatchObject({ ok: true, etag });
    const [theirs, mine] = seen;
    expect(mine?.method).toBe(theirs?.method);
    expect(mine?.url).toBe(theirs?.url);
    expect(JSON.parse(mine?.body ?? '')).toEqual(JSON.parse(theirs?.body ?? ''));
    for (const name of [
      'x-ms-version',
      'dataserviceversion',
      'accept',
      'content-type',
      'prefer',
      'content-length',
    ])
      expect(`${name}: ${String(mine?.headers[name])}`).toBe(
        `${name}: ${String(theirs?.headers[name])}`,
      );
    for (const r of [theirs, mine]) {
      const toSign = sharedKeyLiteStringToSign(
        'devstoreaccount1',
        String(r?.headers['x-ms-date']),
        `http://127.0.0.1${r?.url}`,
      );
      const signature = createHmac('sha256', Buffer.from(devKey, 'base64'))
        .update(toSign, 'utf8')
        .digest('base64');
      expect(r?.headers.authorization).toBe(`SharedKeyLite devstoreaccount1:${signature}`);
    }
  });

  it('answers exists on 409, creates the table on TableNotFound and inserts again', async () => {
    const { url, seen } = await recorder([
      { status: 409, code: 'EntityAlreadyExists' },
      { status: 404, code: 'TableNotFound' },
      { status: 204 },
      { status: 204, headers: { etag: 'W/"x"' } },
    ]);
    const ours = await TableInserter.create(
      storageEndpointFromConnectionString(connection(url), 'table'),
    );
    expect(await ours.insertIfAbsent('events', row)).toEqual({ ok: false, reason: 'exists' });
    expect(await ours.insertIfAbsent('events', row)).toMatchObject({ ok: true, etag: 'W/"x"' });
    expect(seen.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /devstoreaccount1/events',
      'POST /devstoreaccount1/events',
      'POST /devstoreaccount1/Tables',
      'POST /devstoreaccount1/events',
    ]);
    expect(JSON.parse(seen[2]?.body ?? '')).toEqual({ TableName: 'events' });
  });

  it('inserts that find no table at the same moment wait for one creation', async () => {
    // No table until it is created; then inserts succeed.
    let exists = false;
    const { url, seen } = await recorder((request) => {
      if (request.url.endsWith('/Tables')) {
        exists = true;
        return { status: 204 };
      }
      return exists ? { status: 204 } : { status: 404, code: 'TableNotFound' };
    });
    const ours = await TableInserter.create(
      storageEndpointFromConnectionString(connection(url), 'table'),
    );
    const outcomes = await Promise.all(
      ['1', '2', '3'].map((rowKey) => ours.insertIfAbsent('events', { ...row, rowKey })),
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(seen.filter((r) => r.url.endsWith('/Tables'))).toHaveLength(1);
    expect(seen.filter((r) => r.url.endsWith('/events')).length).toBeGreaterThanOrEqual(4);
  });

  it('retries 503 and network-level failures as the SDK does, then throws with the status and the service message', async () => {
    const failure = {
      status: 500,
      code: 'InternalError',
      body: JSON.stringify({
        'odata.error': {
          code: 'InternalError',
          message: { lang: 'en-US', value: 'Server busy.\nRequestId:1' },
        },
      }),
    };
    const { url, seen } = await recorder([failure]);
    const ours = await TableInserter.create(
      storageEndpointFromConnectionString(connection(url), 'table'),
      { retryDelayMs: 10 },
    );
    await expect(ours.insertIfAbsent('events', row)).rejects.toMatchObject({
      statusCode: 500,
      code: 'InternalError',
      message: 'Inserting a row into table events failed: 500 InternalError: Server busy.',
    });
    expect(seen).toHaveLength(3);
  });

  it('throws a 400 at once with its status (the webhook sets such an event aside)', async () => {
    const { url, seen } = await recorder([{ status: 400, code: 'PropertyValueTooLarge' }]);
    const ours = await TableInserter.create(
      storageEndpointFromConnectionString(connection(url), 'table'),
    );
    await expect(ours.insertIfAbsent('events', row)).rejects.toMatchObject({ statusCode: 400 });
    expect(seen).toHaveLength(1);
  });
});
