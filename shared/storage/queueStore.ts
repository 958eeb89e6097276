// The one place that makes Storage queue clients: connection string (Azurite, tests) or managed identity.
// Messages are written base64-encoded, which is what a Functions queue trigger expects by default
// (host.json extensions.queues.messageEncoding "base64").
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import type { QueueClient } from '@azure/storage-queue';
import type { Settings } from '../config/settings.js';
import { RoundTripCounter } from './tableStore.js';

/** Azure's limit on one message (as sent, after base64): 64 KiB. */
export const maxQueueMessageBytes = 64 * 1024;

/** Queue names: 3-63 lowercase letters, digits and single hyphens, starting with a letter or digit. */
export function validQueueName(name: string): boolean {
  return /^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$/.test(name);
}

export class QueueStore {
  /** HTTP requests the app makes to the queue service (counted apart from Table requests). */
  readonly roundTrips = new RoundTripCounter();
  private readonly clients = new Map<string, Promise<QueueClient>>();

  constructor(
    private readonly queues: Settings['queues'],
    /** Prefix for every queue name (tests give each suite its own queues); lowercase, ends with '-'. */
    private readonly prefix = '',
  ) {}

  get configured(): boolean {
    return this.queues.kind !== 'none';
  }

  /** The full name of a queue (with this store's prefix). */
  name(base: string): string {
    return `${this.prefix}${base}`;
  }

  describe(): string {
    switch (this.queues.kind) {
      case 'connectionString':
        return (
          /QueueEndpoint=([^;]+)/i.exec(this.queues.connectionString)?.[1] ?? 'connection string'
        );
      case 'identity':
        return `${this.queues.queueServiceUri} (managed identity)`;
      case 'none':
        return 'not configured (AzureWebJobsStorage names no queue endpoint)';
    }
  }

  /** The client for a queue, created (idempotently) on first use. */
  queue(base: string): Promise<QueueClient> {
    const fullName = this.name(base);
    if (!validQueueName(fullName))
      throw new Error(
        `Invalid queue name "${fullName}": use 3-63 lowercase letters, digits and single hyphens`,
      );
    let client = this.clients.get(fullName);
    if (!client) {
      client = this.createClient(fullName).then(async (c) => {
        await c.createIfNotExists();
        return c;
      });
      client.catch(() => this.clients.delete(fullName));
      this.clients.set(fullName, client);
    }
    return client;
  }

  /** Send one message (text is base64-encoded here, as the queue trigger decodes it). */
  async send(base: string, text: string): Promise<void> {
    const client = await this.queue(base);
    await client.sendMessage(Buffer.from(text, 'utf8').toString('base64'));
  }

  private async createClient(queueName: string): Promise<QueueClient> {
    // Loaded lazily: registering functions at start needs none of it (cold start).
    const { QueueClient } = await import('@azure/storage-queue');
    const counter = this.roundTrips;
    const countingPolicy: PipelinePolicy = {
      name: 'coordinatorQueueRoundTripCounter',
      async sendRequest(request, next) {
        counter.count += 1;
        return next(request);
      },
    };
    const options = {
      retryOptions: { maxTries: 3 },
    };
    let client: QueueClient;
    switch (this.queues.kind) {
      case 'connectionString':
        client = new QueueClient(this.queues.connectionString, queueName, options);
        break;
      case 'identity': {
        const { DefaultAzureCredential, ManagedIdentityCredential } =
          await import('@azure/identity');
        const credential = this.queues.clientId
          ? new ManagedIdentityCredential({ clientId: this.queues.clientId })
          : new DefaultAzureCredential();
        client = new QueueClient(
          `${this.queues.queueServiceUri.replace(/\/+$/, '')}/${queueName}`,
          credential,
          options,
        );
        break;
      }
      case 'none':
        throw new Error(
          'The Storage queue service is not configured: AzureWebJobsStorage must name a queue endpoint (or use AzureWebJobsStorage__accountName)',
        );
    }
    // The storage SDK's pipeline takes extra policies after it is built.
    (
      client as unknown as {
        storageClientContext?: { pipeline?: { addPolicy(p: PipelinePolicy): void } };
      }
    ).storageClientContext?.pipeline?.addPolicy(countingPolicy);
    return client;
  }
}
