// Where a release may be deployed now, by its lifecycle's phases and the successful deployments so far.
import {
  lifecycleOfRelease,
  phaseEnvironments,
  type ReleaseRecord,
  type SimState,
} from './store.js';

function successfulEnvironments(
  state: SimState,
  release: ReleaseRecord,
  tenantId: string | null,
): Set<string> {
  const done = new Set<string>();
  for (const deployment of state.deployments) {
    if (deployment.releaseId !== release.id) continue;
    if (tenantId !== null && deployment.tenantId !== tenantId) continue;
    const task = state.tasks.find((t) => t.id === deployment.taskId);
    if (task?.state === 'Success') done.add(deployment.environmentId);
  }
  return done;
}

/**
 * Environment ids the release may be deployed to now: every phase up to and including the first
 * one that is not yet complete (a phase is complete when optional or when enough of its
 * environments have a successful deployment of this release; 0 minimum means all of them).
 */
export function promotableEnvironments(
  state: SimState,
  release: ReleaseRecord,
  tenantId: string | null = null,
): string[] {
  const lifecycle = lifecycleOfRelease(state, release);
  if (!lifecycle) return state.environments.map((e) => e.id);
  const done = successfulEnvironments(state, release, tenantId);
  const phases = phaseEnvironments(state, lifecycle);
  const allowed: string[] = [];
  for (const [index, environments] of phases.entries()) {
    allowed.push(...environments);
    const phase = lifecycle.phases[index];
    const minimum = phase?.minimumEnvironmentsBeforePromotion ?? 0;
    const needed = minimum === 0 ? environments.length : Math.min(minimum, environments.length);
    const reached = environments.filter((id) => done.has(id)).length;
    if (!phase?.isOptionalPhase && reached < needed) break;
  }
  // Environments ordered as in the space (SortOrder).
  return state.environments.filter((e) => allowed.includes(e.id)).map((e) => e.id);
}
