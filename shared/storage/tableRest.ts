// Inserting a Table Storage row over the REST API, for the webhook's path: storing an event is its one
// Table operation, and @azure/data-tables (about 60-90 ms of CPU to load on top of
// @azure/core-rest-pipeline) would be loaded for that one call on every cold start. The request is
// the one TableClient.createEntity sends (same API version, headers and JSON, string properties only);
// auth as the SDK does it: Shared Key Lite (signed per try), a SAS, or an Entra token. Everything
// else uses the SDK's clients (tableStore.ts).
// https://learn.microsoft.com/rest/api/storageservices/insert-entity
// https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key#shared-key-lite-and-table-service-format-for-2009-09-19-and-later
import { createHmac } from 'node:crypto';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { outcomeFor, written, type WriteOutcome } from './conditional.js';
import {
  StorageRequestError,
  StorageTransport,
  type StorageEndpoint,
  type TransportOptions,
  type TransportResponse,
} from './restTransport.js';
import { tableServiceVersion } from './transaction.js';

/** A row of string properties (what the webhook stores); the keys as the SDK names them. */
export type StringRow = { partitionKey: string; rowKey: string } & Record<string, string>;

/** The Shared Key Lite string to sign of the Table service: the date and the resource (with ?comp=). */
export function sharedKeyLiteStringToSign(accountName: string, date: string, url: string): string {
  const parsed = new URL(url);
  const comp = parsed.searchParams.get('comp');
  return `${date}\n/${accountName}${parsed.pathname || '/'}${comp ? `?comp=${comp}` : ''}`;
}

function sharedKeyLitePolicy(accountName: string, accountKey: string): PipelinePolicy {
  const key = Buffer.from(accountKey, 'base64');
  return {
    name: 'coordinatorTableSharedKeyLite',
    sendRequest(request, next) {
      // Signed on every try: the date is part of the signature.
      const date = new Date().toUTCString();
      request.headers.set('x-ms-date', date);
      const signature = createHmac('sha256', key)
        .update(sharedKeyLiteStringToSign(accountName, date, request.url), 'utf8')
        .digest('base64');
      request.headers.set('authorization', `SharedKeyLite ${accountName}:${signature}`);
      return next(request);
    },
  };
}

const headers = {
  'x-ms-version': tableServiceVersion,
  DataServiceVersion: '3.0',
  Accept: 'application/json;odata=minimalmetadata',
  'Content-Type': 'application/json;odata=nometadata',
  Prefer: 'return-no-content',
};

/** The service's own words about a failure (`odata.error.message.value`), when it sent them. */
function serviceMessage(response: TransportResponse): string | undefined {
  try {
    const parsed = JSON.parse(response.bodyText ?? '') as {
      'odata.error'?: { message?: { value?: unknown } };
    };
    const value = parsed['odata.error']?.message?.value;
    return typeof value === 'string' ? value.split('\n')[0] : undefined;
  } catch {
    return undefined;
  }
}

export class TableInserter {
  /** Tables being created: inserts that found none at the same moment wait for one creation. */
  private readonly creating = new Map<string, Promise<void>>();

  private constructor(private readonly transport: StorageTransport) {}

  static async create(
    endpoint: StorageEndpoint,
    options: TransportOptions = {},
  ): Promise<TableInserter> {
    return new TableInserter(await StorageTransport.create(endpoint, sharedKeyLitePolicy, options));
  }

  /** Create Table: 204 created; 409 TableAlreadyExists is fine too. */
  async createTable(table: string): Promise<void> {
    const url = `${this.transport.endpoint.url}/Tables`;
    const response = await this.transport.send(
      'POST',
      url,
      headers,
      JSON.stringify({ TableName: table }),
    );
    const { status, code } = response;
    if (status === 201 || status === 204 || (status === 409 && code === 'TableAlreadyExists'))
      return;
    throw new StorageRequestError(
      status,
      code,
      `Creating table ${table}`,
      serviceMessage(response),
    );
  }

  /**
   * Insert Entity unless a row with its keys exists. Outcomes as conditional.ts's createIfAbsent
   * gives them (409 exists, 412 conflict, 404 missing; other failures thrown). The table is created
   * when the service says it does not exist, and the row sent again: one request when it exists.
   */
  async insertIfAbsent(table: string, row: StringRow): Promise<WriteOutcome> {
    const { partitionKey, rowKey, ...properties } = row;
    const body = JSON.stringify({ PartitionKey: partitionKey, RowKey: rowKey, ...properties });
    const url = `${this.transport.endpoint.url}/${encodeURIComponent(table)}`;
    let response = await this.transport.send('POST', url, headers, body);
    if (response.status === 404 && response.code === 'TableNotFound') {
      let creating = this.creating.get(table);
      if (!creating) {
        creating = this.createTable(table).finally(() => this.creating.delete(table));
        this.creating.set(table, creating);
      }
      await creating;
      response = await this.transport.send('POST', url, headers, body);
    }
    const { status, code } = response;
    if (status === 204 || status === 201) {
      const date = response.header('date');
      return written({ etag: response.header('etag'), date: date ? new Date(date) : undefined });
    }
    return outcomeFor(
      new StorageRequestError(
        status,
        code,
        `Inserting a row into table ${table}`,
        serviceMessage(response),
      ),
    );
  }
}
