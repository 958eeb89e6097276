// The REST row insert against Azurite, read back with @azure/data-tables: the table is created on the
// first insert, the row reads back as sent with the etag the insert returned, a second insert of the
// same keys is `exists`, and a wrong key is refused (Azurite checks the Shared Key Lite signature).
import { randomBytes } from 'node:crypto';
import { AzureNamedKeyCredential, generateAccountSas } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import { updateIfMatch } from '../../shared/storage/conditional.js';
import { TableStore } from '../../shared/storage/tableStore.js';
import { azuriteConnectionString, uniqueTablePrefix } from '../helpers/storage.js';

describe('TableStore.insertIfAbsent over REST (Azurite)', () => {
  it('creates the table, stores the row as the SDK reads it, and reports a second insert as exists', async () => {
    const store = new TableStore(
      { kind: 'connectionString', connectionString: azuriteConnectionString() },
      uniqueTablePrefix(),
    );
    const row = {
      partitionKey: 'octopus',
      rowKey: '000000000000042',
      eventId: 'Events-42',
      event: JSON.stringify({ Message: 'a<b & "c" ü € \u2028 😀', Id: 'Events-42' }),
      empty: '',
    };
    const first = await store.insertIfAbsent('events', row);
    expect(first.ok).toBe(true);
    // No table yet: insert, create, insert again.
    expect(store.roundTrips.count).toBe(3);
    const again = await store.insertIfAbsent('events', { ...row, eventId: 'other' });
    expect(again).toEqual({ ok: false, reason: 'exists' });
    expect(store.roundTrips.count).toBe(4);

    const client = await store.table('events');
    const read = await client.getEntity<Record<string, unknown>>('octopus', '000000000000042');
    expect(read).toMatchObject(row);
    expect(first.ok && read.etag).toBe(first.ok && first.etag);
    // The etag the insert returned is one the SDK's conditional update accepts.
    const updated = await updateIfMatch(
      client,
      { ...row, eventId: 'updated' },
      first.ok ? first.etag : '',
      'Merge',
    );
    expect(updated.ok).toBe(true);
  });

  it('is refused with a wrong account key (the signature is checked)', async () => {
    const store = new TableStore(
      {
        kind: 'connectionString',
        connectionString: azuriteConnectionString().replace(
          /AccountKey=[^;]+/,
          `AccountKey=${randomBytes(64).toString('base64')}`,
        ),
      },
      uniqueTablePrefix(),
    );
    await expect(
      store.insertIfAbsent('events', { partitionKey: 'p', rowKey: 'r', value: 'x' }),
    ).rejects.toMatchObject({ statusCode: 403 });
  });

  it('inserts with a SAS connection string', async () => {
    const connection = azuriteConnectionString();
    const account = /AccountName=([^;]+)/.exec(connection)?.[1] ?? '';
    const key = /AccountKey=([^;]+)/.exec(connection)?.[1] ?? '';
    const endpoint = /TableEndpoint=([^;]+)/.exec(connection)?.[1] ?? '';
    const sas = generateAccountSas(new AzureNamedKeyCredential(account, key), {
      expiresOn: new Date(Date.now() + 3_600_000),
      permissions: { add: true, query: true, write: true, list: true },
      resourceTypes: 'sco',
    });
    const prefix = uniqueTablePrefix();
    const store = new TableStore(
      {
        kind: 'connectionString',
        connectionString: `TableEndpoint=${endpoint};SharedAccessSignature=${sas}`,
      },
      prefix,
    );
    const outcome = await store.insertIfAbsent('events', {
      partitionKey: 'p',
      rowKey: 'r',
      value: 'with a sas',
    });
    expect(outcome.ok).toBe(true);
    const reader = new TableStore(
      { kind: 'connectionString', connectionString: connection },
      prefix,
    );
    const row = await (await reader.table('events')).getEntity<{ value: string }>('p', 'r');
    expect(row.value).toBe('with a sas');
  });
});
