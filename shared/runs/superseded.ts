// Was a cancelled deployment superseded? Octopus 2025.2+ cancels a queued (or paused) deployment when a
// newer one to the same project/environment/tenant replaces it. The task then reads Canceled like any
// cancel; the only mark is its audit history: the cancel event is the system's, not a user's.
import type { OctopusClient } from '../octopus/client.js';
import { OctopusError } from '../octopus/errors.js';
import { collect } from '../octopus/paging.js';
import type { ServerTask } from '../octopus/tasks.js';
import { parseRunMarker } from './runMarker.js';
import type { Superseding } from './types.js';

/** The server's own user, which performs superseding cancellations. */
function isSystemEvent(e: { UserId?: string; Username?: string }): boolean {
  return e.UserId?.toLowerCase() === 'users-system' || e.Username?.toLowerCase() === 'system';
}

/**
 * Who cancelled the task, from its audit history: 'system', 'user', or undefined when the history
 * cannot be read (no EventView permission) or holds no cancel event.
 */
async function cancelledBy(
  octopus: OctopusClient,
  taskId: string,
): Promise<'system' | 'user' | undefined> {
  try {
    const events = await collect(
      octopus.events.list({ regarding: [taskId], pageSize: 20, maxItems: 20 }),
    );
    // Categories are not all documented ("TaskCanceled" is presumed): match any cancel category.
    const cancel = events.find((e) => /cancel/i.test(e.Category));
    if (!cancel) return undefined;
    return isSystemEvent(cancel) ? 'system' : 'user';
  } catch (err) {
    if (err instanceof OctopusError && (err.status === 401 || err.status === 403)) return undefined;
    throw err;
  }
}

/**
 * For a Canceled deployment task: the newer deployment to the same target that superseded it, or
 * undefined when it was an ordinary cancel. Superseded means: a deployment to the same project,
 * environment and tenant was created after this one, and the audit history says the system cancelled
 * this one (when the history cannot be read, the newer deployment alone decides). Octopus calls: one
 * events page, one deployment read, one deployments page, one release read.
 */
export async function supersedingOf(
  octopus: OctopusClient,
  task: Pick<ServerTask, 'Id' | 'Arguments'>,
): Promise<Superseding | undefined> {
  const deploymentId = task.Arguments?.DeploymentId;
  if (typeof deploymentId !== 'string') return undefined;
  const by = await cancelledBy(octopus, task.Id);
  if (by === 'user') return undefined;
  const ours = await octopus.deployments.get(deploymentId);
  const tenantId = ours.TenantId ?? null;
  const created = Date.parse(ours.Created ?? '');
  const recent = await collect(
    octopus.deployments.list({
      projects: [ours.ProjectId],
      environments: [ours.EnvironmentId],
      ...(tenantId ? { tenants: [tenantId] } : {}),
      pageSize: 10,
      maxItems: 10,
    }),
  );
  // Newest first: what is listed before ours came later (times may tie); the newest of those now
  // stands for the target.
  const ourIndex = recent.findIndex((d) => d.Id === ours.Id);
  const later =
    ourIndex >= 0
      ? recent.slice(0, ourIndex)
      : recent.filter((d) => Date.parse(d.Created ?? '') >= created);
  const newer = later.find((d) => d.Id !== ours.Id && (d.TenantId ?? null) === tenantId);
  if (!newer) return undefined;
  const version = await octopus.releases
    .get(newer.ReleaseId)
    .then((r) => r.Version)
    .catch(() => undefined);
  const byRun = parseRunMarker(newer.Comments)?.runId;
  return {
    deploymentId: newer.Id,
    taskId: newer.TaskId,
    releaseId: newer.ReleaseId,
    ...(version ? { version } : {}),
    ...(byRun ? { byRun } : {}),
  };
}
