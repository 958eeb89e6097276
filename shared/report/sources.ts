// Report sources from the runtime: one Octopus client per space in the report's scope.
import { CoordinatorError } from '../errors.js';
import type { Runtime } from '../runtime/runtime.js';
import { octopusForSpace } from '../runtime/spaceClients.js';
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
  if (!runtime.settings.octopus || !runtime.octopus) throw new OctopusNotConfiguredError();
  return {
    scope: scopeFromConfig(runtime.config, runtime.settings.octopusSpace),
    clock: runtime.clock,
    // The runtime's one client per space, shared with the poll and the watches (one name cache).
    clientFor(space) {
      const client = octopusForSpace(runtime, space);
      if (!client) throw new OctopusNotConfiguredError();
      return client;
    },
  };
}
