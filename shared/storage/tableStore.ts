// The one place that makes Table clients: connection string, development storage, or managed identity.
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import type { TableClient } from '@azure/data-tables';
import type { Settings } from '../config/settings.js';
import type { WriteOutcome } from './conditional.js';
import { assertEntityFits } from './limits.js';
import type { StringRow, TableInserter } from './tableRest.js';

/** Counts HTTP round trips to Table Storage, so jobs, tests and benchmarks can report them. */
export class RoundTripCounter {
  count = 0;
  /** The same requests by table and operation (`events GET`, `$batch POST`, ...), for finding a cost. */
  readonly byKind = new Map<string, number>();
  add(method: string, url: string): void {
    this.count += 1;
    // The path's first segment names the table: `/account/name(PartitionKey=...)`, `/name()`, `/$batch`.
    const path = /^[a-z]+:\/\/[^/]+(\/[^?]*)/i.exec(url)?.[1] ?? '';
    const segments = path.split('/').filter((s) => s !== '');
    const last = segments[segments.length - 1] ?? '';
    const kind = `${last.replace(/\(.*$/, '')} ${method}`;
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
  }
  reset(): number {
    const n = this.count;
    this.count = 0;
    this.byKind.clear();
    return n;
  }
}

/**
 * A table store hands out one TableClient per table, creating the table once per process.
 * Table names are 3-63 letters and digits, starting with a letter.
 */
export class TableStore {
  readonly roundTrips = new RoundTripCounter();
  private readonly clients = new Map<string, Promise<TableClient>>();
  private inserter: Promise<TableInserter> | undefined;

  constructor(
    private readonly storage: Settings['storage'],
    /** Prefix for every table name, so tests and several apps can share one account. */
    private readonly tablePrefix = '',
  ) {}

  /** Describe where the state lives, for health output (never includes a key). */
  describe(): string {
    switch (this.storage.kind) {
      case 'connectionString': {
        const endpoint = /TableEndpoint=([^;]+)/i.exec(this.storage.connectionString)?.[1];
        if (/UseDevelopmentStorage=true/i.test(this.storage.connectionString)) {
          return 'development storage (Azurite, 127.0.0.1:10002)';
        }
        const account = /AccountName=([^;]+)/i.exec(this.storage.connectionString)?.[1];
        return endpoint ?? (account ? `storage account ${account}` : 'connection string');
      }
      case 'identity':
        return `${this.storage.tableServiceUri} (managed identity)`;
      case 'none':
        return 'not configured';
    }
  }

  get configured(): boolean {
    return this.storage.kind !== 'none';
  }

  /** The full name of a table, checked: 3-63 letters and digits, starting with a letter. */
  private fullName(name: string): string {
    const fullName = `${this.tablePrefix}${name}`;
    if (!/^[A-Za-z][A-Za-z0-9]{2,62}$/.test(fullName)) {
      throw new Error(
        `Invalid table name "${fullName}": use 3-63 letters and digits, starting with a letter`,
      );
    }
    return fullName;
  }

  /** The client for a table, created (idempotently) on first use. */
  table(name: string): Promise<TableClient> {
    const fullName = this.fullName(name);
    let client = this.clients.get(fullName);
    if (!client) {
      client = this.createClient(fullName).then(async (c) => {
        await c.createTable();
        return c;
      });
      client.catch(() => this.clients.delete(fullName));
      this.clients.set(fullName, client);
    }
    return client;
  }

  /**
   * Insert a row of strings unless one with its keys exists: what createIfAbsent on `table(name)` does
   * (same checks, request and outcomes), over the REST API, so the webhook's path loads no Table SDK
   * (cold start). The table is created when the insert finds none.
   */
  async insertIfAbsent(name: string, row: StringRow): Promise<WriteOutcome> {
    const fullName = this.fullName(name);
    assertEntityFits(fullName, row);
    const inserter = await this.getInserter();
    return inserter.insertIfAbsent(fullName, row);
  }

  private getInserter(): Promise<TableInserter> {
    if (!this.inserter) {
      const created = this.createInserter();
      created.catch(() => {
        if (this.inserter === created) this.inserter = undefined;
      });
      this.inserter = created;
    }
    return this.inserter;
  }

  private async createInserter(): Promise<TableInserter> {
    const { TableInserter } = await import('./tableRest.js');
    const { restEndpoint } = await import('./credential.js');
    const storage = this.storage;
    const endpoint = await restEndpoint(
      storage.kind === 'identity'
        ? { kind: 'identity', serviceUri: storage.tableServiceUri, clientId: storage.clientId }
        : storage,
      'table',
    );
    if (!endpoint)
      throw new Error(
        'Table Storage is not configured: set AzureWebJobsStorage (a connection string) or AzureWebJobsStorage__accountName (managed identity)',
      );
    const counter = this.roundTrips;
    return TableInserter.create(endpoint, {
      onRequest: (request) => counter.add(request.method, request.url),
    });
  }

  private async createClient(tableName: string): Promise<TableClient> {
    // Loaded lazily: the SDK is large and not needed to register functions at start.
    const { TableClient } = await import('@azure/data-tables');
    const counter = this.roundTrips;
    const countingPolicy: PipelinePolicy = {
      name: 'coordinatorRoundTripCounter',
      async sendRequest(request, next) {
        counter.add(request.method, request.url);
        return next(request);
      },
    };
    const options = {
      additionalPolicies: [{ policy: countingPolicy, position: 'perRetry' as const }],
      retryOptions: { maxRetries: 2 },
    };
    switch (this.storage.kind) {
      case 'connectionString':
        return TableClient.fromConnectionString(this.storage.connectionString, tableName, {
          ...options,
          allowInsecureConnection:
            /(^|;)\s*(DefaultEndpointsProtocol=http;|TableEndpoint=http:)/i.test(
              this.storage.connectionString,
            ),
        });
      case 'identity': {
        // Lazily, as the REST senders load it: start-up needs neither it nor restTransport.ts.
        const { storageCredential } = await import('./credential.js');
        const credential = await storageCredential(this.storage.clientId);
        return new TableClient(this.storage.tableServiceUri, tableName, credential, options);
      }
      case 'none':
        throw new Error(
          'Table Storage is not configured: set AzureWebJobsStorage (a connection string) or AzureWebJobsStorage__accountName (managed identity)',
        );
    }
  }
}
