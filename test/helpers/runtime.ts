// A runtime on the shared Azurite, on tables of its own, with the default coordination config.
import { coordinationConfigSchema } from '../../shared/config/coordination/schema.js';
import { createRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { azuriteConnectionString, uniqueTablePrefix } from './storage.js';

/** A runtime whose only setting is AzureWebJobsStorage (Azurite) and whose tables are its own. */
export function azuriteRuntime(): Promise<Runtime> {
  return createRuntime({
    env: { AzureWebJobsStorage: azuriteConnectionString() },
    config: coordinationConfigSchema.parse({}),
    tablePrefix: uniqueTablePrefix(),
  });
}
