// Report sources from the runtime: one Octopus client per space in the report's scope.
import { CoordinatorError } from '../errors.js';
import { createOctopusClient, type OctopusClient } from '../octopus/index.js';
import type { Runtime } from '../runtime/runtime.js';
import type { ReportSources } from './buildReport.js';
import { scopeFromConfig } from './gather.js';

export class OctopusNotConfiguredError extends CoordinatorError {
  constructor() {
    super(
      'unavailable',
      'octopus_not_configured',
      'Octopus is not configured, so there is nothing to report: set OCTOPUS_URL and OCTOPUS_API_KEY (the dev host starts a simulator when OCTOPUS_URL is unset).',
    );
  }
}

export function reportSources(runtime: Runtime): ReportSources {
  const octopus = runtime.settings.octopus;
  const main = runtime.octopus;
  if (!octopus || !main) throw new OctopusNotConfiguredError();
  const clients = new Map<string, OctopusClient>([[octopus.space.toLowerCase(), main]]);
  return {
    scope: scopeFromConfig(runtime.config, runtime.settings.octopusSpace),
    clock: runtime.clock,
    clientFor(space) {
      const key = space.toLowerCase();
      let client = clients.get(key);
      if (!client) {
        client = createOctopusClient({ url: octopus.url, apiKey: octopus.apiKey, space });
        clients.set(key, client);
      }
      return client;
    },
  };
}
