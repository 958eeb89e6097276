// Concurrency group names (no lock code here: plans name their group without loading the lock service).
import type { RunPlan } from './types.js';

/** The default group: the playbook or promotion × environment × tenant. */
export const defaultGroupTemplate = (plan: Pick<RunPlan, 'kind' | 'name'>): string =>
  `${plan.kind}/${plan.name}/{environment}/{tenant}`;

/** A group name with the run's environment and tenant filled in. */
export function renderGroup(
  template: string,
  where: { environment?: string; tenant?: string | null },
): string {
  return template
    .replaceAll('{environment}', where.environment ?? '-')
    .replaceAll('{tenant}', where.tenant ?? '-');
}
