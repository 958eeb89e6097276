// Where a cooperation call points: the Octopus ids of the project, environment and tenant it names.
import type { OctopusClient } from './client.js';

export interface Target {
  projectId: string;
  environmentId: string;
  /** Null when untenanted. */
  tenantId: string | null;
}

/** Resolves the names (or ids) a caller, a plan or a rule gave, in parallel (cached by the client). */
export async function resolveTarget(
  octopus: OctopusClient,
  ref: { project: string; environment: string; tenant?: string | null | undefined },
): Promise<Target> {
  const [projectId, environmentId, tenantId] = await Promise.all([
    octopus.resolve.projectId(ref.project),
    octopus.resolve.environmentId(ref.environment),
    ref.tenant ? octopus.resolve.tenantId(ref.tenant) : Promise.resolve(null),
  ]);
  return { projectId, environmentId, tenantId };
}
