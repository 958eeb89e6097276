// Global test setup: one in-memory Azurite (table and queue services) for the whole run, on free ports.
import type { TestProject } from 'vitest/node';
import { startAzuriteTable, type AzuriteTable } from '../../dev/azurite.js';

let azurite: AzuriteTable | undefined;

export async function setup(project: TestProject): Promise<void> {
  azurite = await startAzuriteTable({ queue: true });
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
