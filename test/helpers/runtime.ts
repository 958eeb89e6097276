// A runtime on the shared Azurite, on tables of its own, with the default coordination config or one given.
import {
  coordinationConfigSchema,
  type CoordinationConfig,
} from '../../shared/config/coordination/schema.js';
import { createRuntime, type Runtime } from '../../shared/runtime/runtime.js';
import { azuriteConnectionString, uniqueTablePrefix } from './storage.js';

/** A runtime whose only setting is AzureWebJobsStorage (Azurite) and whose tables are its own. */
export function azuriteRuntime(
  config: CoordinationConfig = coordinationConfigSchema.parse({}),
): Promise<Runtime> {
  return createRuntime({
    env: { AzureWebJobsStorage: azuriteConnectionString() },
    config,
    tablePrefix: uniqueTablePrefix(),
  });
}
