// Global test setup: one in-memory Azurite table service for the whole run, on a free port.
import type { TestProject } from 'vitest/node';
import { startAzuriteTable, type AzuriteTable } from '../../dev/azurite.js';

let azurite: AzuriteTable | undefined;

export async function setup(project: TestProject): Promise<void> {
  azurite = await startAzuriteTable();
  process.env.AzureWebJobsStorage = azurite.connectionString;
  project.provide('azuriteConnectionString', azurite.connectionString);
}

export async function teardown(): Promise<void> {
  await azurite?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    azuriteConnectionString: string;
  }
}
