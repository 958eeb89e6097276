// Entity group transactions sent on the table client's own pipeline. The SDK's submitTransaction
// builds a new TableClient, with its pipeline, for every transaction and runs each action through
// that client's request pipeline to produce its part of the body (about 1 ms of CPU per transaction
// here); this builds the same multipart body directly and sends it on the pipeline the client
// already has (its credential, retries and request counter), so nothing is built per transaction.
// The wire format is the SDK's (captured from @azure/data-tables 13.3): the same parts, headers and
// sub-request lines, and the same error for a refused action (a RestError with the sub-response's
// status and code, the failing action's index leading the message).
import { randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import type { HttpClient } from '@azure/core-rest-pipeline';

/**
 * The REST API version @azure/data-tables 13 sends (also tableRest.ts's). Kept here, not in
 * tableRest.ts: the events store loads this module at start, and importing the constant from there
 * put the webhook's lazily loaded REST senders (tableRest.ts, restTransport.ts) on the start-up graph.
 */
export const tableServiceVersion = '2019-02-02';

/** A row whose properties are all strings (what the events table writes in transactions). */
export interface StringEntity {
  partitionKey: string;
  rowKey: string;
  [property: string]: string;
}

/** Insert (fails with 409 if the row exists), or merge into an existing row (If-Match: *; 404 if none). */
export type BatchAction =
  { kind: 'create'; entity: StringEntity } | { kind: 'merge'; entity: StringEntity };

const crlf = '\r\n';

let httpClient: Promise<HttpClient> | undefined;
async function defaultHttpClient(): Promise<HttpClient> {
  httpClient ??= import('@azure/core-rest-pipeline').then((m) => m.createDefaultHttpClient());
  return httpClient;
}

function entityJson(entity: StringEntity): string {
  const { partitionKey, rowKey, ...properties } = entity;
  return JSON.stringify({ PartitionKey: partitionKey, RowKey: rowKey, ...properties });
}

/** A key in an entity's address: OData string literal (quotes doubled), then URL-encoded. */
function keyLiteral(key: string): string {
  return encodeURIComponent(key.replace(/'/g, "''"));
}

function part(action: BatchAction, tableUrl: string, changeset: string): string {
  const { entity } = action;
  const head = [
    `--${changeset}`,
    'content-type: application/http',
    'content-transfer-encoding: binary',
    '',
  ];
  const lines =
    action.kind === 'create'
      ? [
          `POST ${tableUrl} HTTP/1.1`,
          'Content-Type: application/json;odata=nometadata',
          'Accept: application/json;odata=minimalmetadata',
          'DataServiceVersion: 3.0',
          'Prefer: return-no-content',
        ]
      : [
          `PATCH ${tableUrl}(PartitionKey='${keyLiteral(entity.partitionKey)}',RowKey='${keyLiteral(entity.rowKey)}') HTTP/1.1`,
          'Content-Type: application/json',
          'DataServiceVersion: 3.0',
          'Accept: application/json',
          'If-Match: *',
        ];
  return [...head, ...lines, '', '', entityJson(entity)].join(crlf);
}

export interface BatchResult {
  /** Each action's ETag, in the order of the actions. */
  etags: (string | undefined)[];
}

/**
 * Submit actions on one partition as one transaction (all or nothing; at most 100 actions, 4 MiB).
 * Throws a RestError (statusCode, code) when the transaction is refused, as the SDK does.
 */
export async function submitBatch(
  client: TableClient,
  actions: readonly BatchAction[],
): Promise<BatchResult> {
  const first = actions[0];
  if (!first) return { etags: [] };
  if (actions.length > 100) throw new RangeError('A transaction holds at most 100 actions.');
  for (const a of actions)
    if (a.entity.partitionKey !== first.entity.partitionKey)
      throw new Error('All operations in a transaction must target the same partitionKey');
  const { createHttpHeaders, createPipelineRequest, RestError } =
    await import('@azure/core-rest-pipeline');
  const [base = '', query] = client.url.split('?');
  const account = base.replace(/\/+$/, '');
  const tableUrl = `${account}/${client.tableName}`;
  const batchId = randomUUID();
  const changesetId = randomUUID();
  const batch = `batch_${batchId}`;
  const changeset = `changeset_${changesetId}`;
  const body =
    [
      `--${batch}${crlf}content-type: multipart/mixed; boundary=${changeset}${crlf}${crlf}`,
      ...actions.map((a) => part(a, tableUrl, changeset)),
      `--${changeset}--`,
      `--${batch}--`,
    ].join(crlf) + crlf;
  const request = createPipelineRequest({
    url: `${account}/$batch${query ? `?${query}` : ''}`,
    method: 'POST',
    body,
    headers: createHttpHeaders({
      accept: 'application/json',
      'x-ms-version': tableServiceVersion,
      DataServiceVersion: '3.0;',
      MaxDataServiceVersion: '3.0;NetFx',
      'Content-Type': `multipart/mixed; boundary=${batch}`,
      'Accept-Charset': 'UTF-8',
      Connection: 'Keep-Alive',
    }),
    allowInsecureConnection: account.startsWith('http:'),
  });
  const response = await client.pipeline.sendRequest(await defaultHttpClient(), request);
  const text = response.bodyAsText ?? '';
  const fail = (json: string, status: number): never => {
    let code: string | undefined;
    let message = 'Transaction Failed';
    try {
      const error = (
        JSON.parse(json) as { 'odata.error'?: { code?: string; message?: { value?: string } } }
      )['odata.error'];
      if (error) {
        message = error.message?.value ?? message;
        code = error.code;
      }
    } catch {
      // not JSON: the generic message
    }
    throw new RestError(message, {
      ...(code ? { code } : {}),
      statusCode: status,
      request,
      response,
    });
  };
  if (response.status < 200 || response.status >= 300) fail(text, response.status);
  const subResponses = text.split('--changesetresponse_').slice(1, -1);
  const etags = subResponses.map((sub) => {
    const status = Number(/HTTP\/1\.1 ([0-9]+)/.exec(sub)?.[1]);
    if (!Number.isInteger(status))
      throw new Error(`Couldn't extract status from sub-response:\n ${sub}`);
    const errorBody = /\{(.*)\}/.exec(sub)?.[0];
    if (errorBody) fail(errorBody, status);
    return /ETag: (.*)/.exec(sub)?.[1];
  });
  return { etags };
}
