// Octopus's deployment freezes in the simulator: which freeze holds a project × environment (× tenant) at a moment.
import { occurrenceAt } from '../../shared/freezes/octopusFreezes.js';
import type { DeploymentFreeze } from '../../shared/octopus/deploymentFreezes.js';
import type { DeploymentFreezeRecord, SimState } from './store.js';
import { isoTime } from './time.js';

/** The record in Octopus's wire shape (PascalCase). */
export function renderFreeze(
  f: DeploymentFreezeRecord,
): DeploymentFreeze & Record<string, unknown> {
  return {
    Id: f.id,
    Name: f.name,
    Description: f.description,
    Start: isoTime(f.start),
    End: isoTime(f.end),
    ProjectEnvironmentScope: f.projectEnvironmentScope,
    TenantProjectEnvironmentScope: f.tenantProjectEnvironmentScope,
    RecurringSchedule: f.recurringSchedule as DeploymentFreeze['RecurringSchedule'],
    OwnerId: f.ownerId,
  };
}

/** Whether the freeze names this project in this environment (or this tenant of it there). */
export function freezeCovers(
  f: DeploymentFreezeRecord,
  projectId: string,
  environmentId: string,
  tenantId: string | null,
): boolean {
  if ((f.projectEnvironmentScope[projectId] ?? []).includes(environmentId)) return true;
  return f.tenantProjectEnvironmentScope.some(
    (s) =>
      s.ProjectId === projectId &&
      s.EnvironmentId === environmentId &&
      tenantId !== null &&
      s.TenantId === tenantId,
  );
}

/** The freeze in force over this place at `at`, if any (a repeating one by its current occurrence). */
export function activeFreeze(
  state: SimState,
  projectId: string,
  environmentId: string,
  tenantId: string | null,
  at: number,
): { freeze: DeploymentFreezeRecord; end: number } | undefined {
  for (const f of state.deploymentFreezes) {
    if (!freezeCovers(f, projectId, environmentId, tenantId)) continue;
    const occurrence = occurrenceAt(renderFreeze(f), new Date(at));
    if (occurrence) return { freeze: f, end: occurrence.end.getTime() };
  }
  return undefined;
}

/** Whether a freeze can still be in force at or after `at` (includeComplete=false keeps these). */
export function notEnded(f: DeploymentFreezeRecord, at: number): boolean {
  return f.recurringSchedule !== null || f.end > at;
}
