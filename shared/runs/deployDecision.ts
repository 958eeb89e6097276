// Whether and how a deploy action deploys, given what Octopus says about its target (its lifecycle included). Pure; the run and the dry run both use it.
import { describeFrozen } from '../freezes/model.js';
import { compareVersions } from '../versions.js';
import {
  isChosenRelease,
  type DeployDecision,
  type DeployResolution,
  type LifecycleVerdict,
  type PlanDeploy,
} from './types.js';

export function deployDecision(spec: PlanDeploy, r: DeployResolution): DeployDecision {
  const target = r.release;
  const current = r.current;
  if (
    current &&
    (current.state === 'Queued' || current.state === 'Executing') &&
    current.releaseId === target.releaseId
  ) {
    return {
      kind: 'join',
      deploymentId: current.deploymentId,
      taskId: current.taskId,
      why: `a deployment of ${target.version} is already ${current.state.toLowerCase()} there (${current.deploymentId}); following it instead of starting another`,
    };
  }
  if (
    spec.when === 'ifNotCurrent' &&
    current?.releaseId === target.releaseId &&
    current.state === 'Success'
  ) {
    return { kind: 'skip', why: `${target.version} is already current and successful there` };
  }
  const baseline = r.lastSuccessful;
  if (
    spec.when === 'ifNewer' &&
    baseline &&
    compareVersions(target.version, baseline.version) <= 0
  ) {
    return {
      kind: 'skip',
      why: `${target.version} is not newer than ${baseline.version}, the current successful release there`,
    };
  }
  if (
    baseline &&
    compareVersions(target.version, baseline.version) < 0 &&
    !spec.allowDowngrade &&
    !spec.rollback
  ) {
    return {
      kind: 'refuse',
      why: `deploying ${target.version} would move ${spec.project} in ${spec.environment} back from ${baseline.version}; set "allowDowngrade": true on the action if that is intended`,
    };
  }
  if (r.lifecycle && !r.lifecycle.allowed) {
    return { kind: 'refuse', why: lifecycleRefusal(spec, r, r.lifecycle) };
  }
  const blocking = (r.freeze?.hits ?? []).filter((h) => !(spec.rollback && h.allowsRollback));
  if (blocking.length > 0) return { kind: 'frozen', why: describeFrozen(spec, blocking) };
  const from = current
    ? `${current.version} (${current.state}) is current there`
    : 'nothing is deployed there yet';
  return { kind: 'deploy', why: `${from}; deploying ${target.version}` };
}

/** Why Octopus would refuse the deployment, and what to do about it. */
function lifecycleRefusal(
  spec: PlanDeploy,
  r: DeployResolution,
  verdict: LifecycleVerdict,
): string {
  const where = `${spec.environment}${spec.tenant ? ` for ${spec.tenant}` : ''}`;
  const allowed = verdict.allowedEnvironments.join(', ') || 'none';
  return `Octopus's lifecycle does not allow release ${r.release.version} of ${spec.project} into ${where} yet (allowed: ${allowed}); deploy it to the earlier environments of its lifecycle first, or choose a release that has been through them`;
}

/** Whether a deploy plan release is fixed in advance (for dry-run wording). */
export const isFixedRelease = (spec: PlanDeploy): boolean => isChosenRelease(spec.release);
