// Test helpers for the lock module: a LeaseLocks on this suite's own tables, and a table client
// whose next batch response can be lost after the write happened.
import { RestError, type PipelinePolicy } from '@azure/core-rest-pipeline';
import { TableClient } from '@azure/data-tables';
import { LeaseLocks, type LeaseLocksOptions } from '../../shared/locks/leaseLock.js';
import { azuriteConnectionString, tableStoreForTest, uniqueTablePrefix } from './storage.js';

export function locksForTest(options: Partial<LeaseLocksOptions> = {}): LeaseLocks {
  const store = tableStoreForTest();
  return new LeaseLocks({ table: () => store.table('locks'), ...options });
}

export interface LossyTable {
  client: () => Promise<TableClient>;
  /** The next batch (`$batch`) is written by storage, but its response never reaches us. */
  loseNextBatchResponse(): void;
}

export function lossyTable(): LossyTable {
  let loseNext = false;
  const policy: PipelinePolicy = {
    name: 'loseBatchResponse',
    async sendRequest(request, next) {
      const response = await next(request);
      if (loseNext && request.url.includes('$batch')) {
        loseNext = false;
        throw new RestError('socket hang up (simulated: the write happened, the answer was lost)', {
          code: 'ECONNRESET',
        });
      }
      return response;
    },
  };
  const client = TableClient.fromConnectionString(
    azuriteConnectionString(),
    `${uniqueTablePrefix()}locks`,
    {
      allowInsecureConnection: true,
      retryOptions: { maxRetries: 0 },
      additionalPolicies: [{ policy, position: 'perCall' }],
    },
  );
  const ready = client.createTable().then(() => client);
  return { client: () => ready, loseNextBatchResponse: () => (loseNext = true) };
}
