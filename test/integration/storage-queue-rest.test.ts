// The REST queue sender against Azurite's queue service, read back with @azure/storage-queue: the
// message arrives as the SDK (and the queue trigger) reads it, a queue that does not exist yet is
// created, a wrong key is refused (Azurite checks the Shared Key signature), and a SAS works.
import { randomBytes } from 'node:crypto';
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  generateAccountSASQueryParameters,
  QueueClient,
  StorageSharedKeyCredential,
} from '@azure/storage-queue';
import { describe, expect, it } from 'vitest';
import { QueueStore } from '../../shared/storage/queueStore.js';
import { azuriteConnectionString } from '../helpers/storage.js';

function prefix(): string {
  return `q${randomBytes(4).toString('hex')}-`;
}

async function received(connection: string, name: string): Promise<string[]> {
  const client = new QueueClient(connection, name);
  const peeked = await client.peekMessages({ numberOfMessages: 32 });
  return peeked.peekedMessageItems.map((m) =>
    Buffer.from(m.messageText, 'base64').toString('utf8'),
  );
}

describe('QueueStore over the REST sender (Azurite)', () => {
  it('creates the queue on first send and the SDK reads the messages back as sent', async () => {
    const connection = azuriteConnectionString();
    const store = new QueueStore(
      { kind: 'connectionString', connectionString: connection },
      prefix(),
    );
    const text = JSON.stringify({
      v: 1,
      events: [{ k: '1', r: 'x', e: { Message: 'a<b & "c" ü €' } }],
    });
    await store.send('octopus-events', text);
    await store.send('octopus-events', 'second');
    expect(await received(connection, store.name('octopus-events'))).toEqual([text, 'second']);
    // The first send found no queue: send, create, send again; the second one request.
    expect(store.roundTrips.count).toBe(4);
  });

  it('is refused with a wrong account key (the signature is checked)', async () => {
    const connection = azuriteConnectionString().replace(
      /AccountKey=[^;]+/,
      `AccountKey=${randomBytes(64).toString('base64')}`,
    );
    const store = new QueueStore(
      { kind: 'connectionString', connectionString: connection },
      prefix(),
    );
    await expect(store.send('octopus-events', 'x')).rejects.toMatchObject({ statusCode: 403 });
  });

  it('sends with a SAS connection string', async () => {
    const connection = azuriteConnectionString();
    const account = /AccountName=([^;]+)/.exec(connection)?.[1] ?? '';
    const key = /AccountKey=([^;]+)/.exec(connection)?.[1] ?? '';
    const endpoint = /QueueEndpoint=([^;]+)/.exec(connection)?.[1] ?? '';
    const sas = generateAccountSASQueryParameters(
      {
        expiresOn: new Date(Date.now() + 3_600_000),
        permissions: AccountSASPermissions.parse('rwac'),
        resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
        services: AccountSASServices.parse('q').toString(),
      },
      new StorageSharedKeyCredential(account, key),
    ).toString();
    const store = new QueueStore(
      {
        kind: 'connectionString',
        connectionString: `QueueEndpoint=${endpoint};SharedAccessSignature=${sas}`,
      },
      prefix(),
    );
    await store.send('octopus-events', 'with a sas');
    expect(await received(connection, store.name('octopus-events'))).toEqual(['with a sas']);
  });
});
