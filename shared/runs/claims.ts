// Deploy claims, the decision side: a deploy claims its project × environment × tenant before it
// creates a deployment (the executor reads the target again under the claim), waits its turn when
// another run's deployment of a different release is active there, joins one of the same release,
// and gives the claim back when it is done. So the coordinator never has two deployments of its own
// active in one place, whichever runs, groups or instances want them.
import { deployDecision } from './deployDecision.js';
import { addMs, allActions, backoffMs, leaseId, type Ctx } from './stepContext.js';
import {
  isFinishedAction,
  type ActionState,
  type DeployResolution,
  type Observation,
} from './types.js';

/** The lock of one project × environment × tenant, by Octopus ids (names have aliases; ids do not). */
export const deployClaimLock = (r: DeployResolution): string =>
  `deploy/${r.projectId}/${r.environmentId}/${r.tenantId ?? '-'}`;

/** How soon a deploy waiting for another run's deployment reads its target again (a release there wakes it at once). */
export const claimRecheckMs = 5_000;

/** Whether the action should give its claim back now. */
function claimDone(a: ActionState): boolean {
  if (!a.claim) return false;
  if (isFinishedAction(a.status) || a.joined === true) return true;
  // Held back by a freeze: give the target back, so nothing holds it for as long as the freeze lasts.
  if (a.frozen !== undefined) return true;
  // A place in the queue is kept only while the deploy still waits to deploy.
  return a.claim.leaseId === undefined && a.status !== 'resolving';
}

/** Issue the release of every claim that is done with (once per advancing lease, after a retry time). */
export function stepClaims(ctx: Ctx): void {
  const { s, now } = ctx;
  for (const a of allActions(s)) {
    const claim = a.claim;
    if (!claim || !claimDone(a)) continue;
    if (claim.releaseIssuedUnder === leaseId(s)) continue;
    if (claim.retryAt !== undefined && Date.parse(claim.retryAt) > now.getTime()) continue;
    claim.releaseIssuedUnder = leaseId(s);
    claim.retryAt = undefined;
    ctx.cmds.push({
      kind: 'releaseClaim',
      actionId: a.id,
      lock: claim.lock,
      ...(claim.leaseId ? { leaseId: claim.leaseId } : {}),
    });
  }
}

/** The claim's queue answered "not yet": wait (and say for whom), unless the target changed so there is nothing to deploy. */
export function applyClaimWaiting(
  ctx: Ctx,
  a: ActionState,
  o: Extract<Observation, { kind: 'deployClaimWaiting' }>,
  applyResolved: (resolution: typeof o.resolution) => void,
): void {
  if (a.status !== 'resolving' || a.spec.type !== 'deploy') return;
  a.awaiting = false;
  a.claim = {
    lock: o.lock,
    waitingFor: o.waitingFor,
    ...(o.position !== null ? { position: o.position } : {}),
  };
  if (deployDecision(a.spec, o.resolution).kind !== 'deploy') {
    // Joined, skipped or refused: the queued place is left by stepClaims.
    applyResolved(o.resolution);
    return;
  }
  a.resolution = o.resolution;
  a.retryAt = addMs(ctx.now, claimRecheckMs);
  const who = o.waitingFor.length > 0 ? `run ${o.waitingFor.join(', ')}` : 'another run';
  a.note = `waiting for the deployment ${who} started there to end before deploying ${o.resolution.release.version} (position ${o.position ?? '?'})`;
}

/** A claim command failed (storage trouble): try again later. */
export function claimFailed(
  ctx: Ctx,
  actionId: string,
  kind: 'claimDeploy' | 'releaseClaim',
  message: string,
): void {
  const a = allActions(ctx.s).find((x) => x.id === actionId);
  if (!a) return;
  if (kind === 'releaseClaim') {
    if (a.claim) {
      a.claim.releaseIssuedUnder = undefined;
      a.claim.retryAt = addMs(ctx.now, backoffMs(1));
    }
    return;
  }
  if (isFinishedAction(a.status)) return;
  a.awaiting = false;
  a.failures += 1;
  a.retryAt = addMs(ctx.now, backoffMs(a.failures));
  a.note = `could not claim the deploy's target (${message}); trying again at ${a.retryAt}`;
}
