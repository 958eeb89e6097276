// Whether Octopus's lifecycle lets a release into an environment now, as the server says (the release's deployment template), read once per release per run step.
import type { ReleaseDeploymentTemplate } from '../octopus/releases.js';
import type { LifecycleVerdict } from './types.js';

/** Reads a release's deployment template; the same release asked twice is read once. */
export type ReleaseTemplates = (releaseId: string) => Promise<ReleaseDeploymentTemplate>;

/**
 * A reader that asks Octopus once per release and shares the answer. Made afresh for each run step
 * (and each dry run): what a lifecycle allows changes as deployments finish, so it is never kept longer.
 */
export function releaseTemplates(
  read: (releaseId: string) => Promise<ReleaseDeploymentTemplate>,
): ReleaseTemplates {
  const asked = new Map<string, Promise<ReleaseDeploymentTemplate>>();
  return (releaseId) => {
    let answer = asked.get(releaseId);
    if (!answer) {
      // A failed read is not kept: the next attempt asks again.
      answer = read(releaseId).catch((err: unknown) => {
        asked.delete(releaseId);
        throw err;
      });
      asked.set(releaseId, answer);
    }
    return answer;
  };
}

/**
 * What the template says about one environment. A tenanted deploy follows the tenant's own
 * progression (TenantPromotions) when Octopus lists the tenant; otherwise the release's PromoteTo.
 */
export function lifecycleVerdict(
  template: ReleaseDeploymentTemplate,
  environmentId: string,
  tenantId: string | null,
): LifecycleVerdict {
  const forTenant = tenantId
    ? template.TenantPromotions?.find((t) => t.Id === tenantId)
    : undefined;
  const promoteTo = forTenant?.PromoteTo ?? template.PromoteTo;
  return {
    allowed: promoteTo.some((e) => e.Id === environmentId),
    allowedEnvironments: promoteTo.map((e) => e.Name),
  };
}
