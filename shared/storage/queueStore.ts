// The one place that talks to Storage queues: connection string (Azurite, tests) or managed identity.
// Messages are written base64-encoded, which is what a Functions queue trigger expects by default
// (host.json extensions.queues.messageEncoding "base64"). The webhook only sends, so this sends over
// the REST API (queueRest.ts) instead of loading @azure/storage-queue on every cold start.
import type { Settings } from '../config/settings.js';
import type { QueueSender } from './queueRest.js';
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
  private sender: Promise<QueueSender> | undefined;

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

  /**
   * Send one message (text is base64-encoded here, as the queue trigger decodes it). The queue is
   * created when the service says it does not exist yet (then the message is sent again).
   */
  async send(base: string, text: string): Promise<void> {
    const fullName = this.name(base);
    if (!validQueueName(fullName))
      throw new Error(
        `Invalid queue name "${fullName}": use 3-63 lowercase letters, digits and single hyphens`,
      );
    const sender = await this.getSender();
    await sender.putMessage(fullName, Buffer.from(text, 'utf8').toString('base64'));
  }

  private getSender(): Promise<QueueSender> {
    if (!this.sender) {
      const created = this.createSender();
      created.catch(() => {
        if (this.sender === created) this.sender = undefined;
      });
      this.sender = created;
    }
    return this.sender;
  }

  private async createSender(): Promise<QueueSender> {
    // Loaded lazily: registering functions at start needs none of it (cold start).
    const { QueueSender } = await import('./queueRest.js');
    const { restEndpoint } = await import('./credential.js');
    const queues = this.queues;
    const endpoint = await restEndpoint(
      queues.kind === 'identity'
        ? { kind: 'identity', serviceUri: queues.queueServiceUri, clientId: queues.clientId }
        : queues,
      'queue',
    );
    if (!endpoint)
      throw new Error(
        'The Storage queue service is not configured: AzureWebJobsStorage must name a queue endpoint (or use AzureWebJobsStorage__accountName)',
      );
    const counter = this.roundTrips;
    return QueueSender.create(endpoint, {
      onRequest: (request) => counter.add(request.method, request.url),
    });
  }
}
