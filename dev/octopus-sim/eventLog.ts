// Audit events the simulator writes, with Octopus's categories, messages and RelatedDocumentIds order.
import { nextId, type DeploymentRecord, type EventRecord, type SimState } from './store.js';

export interface Actor {
  userId: string;
  username: string;
  userAgent: string;
}

export const systemActor: Actor = {
  userId: 'users-system',
  username: 'system',
  userAgent: 'Server',
};

export type DeploymentEventCategory =
  | 'DeploymentQueued'
  | 'DeploymentStarted'
  | 'DeploymentSucceeded'
  | 'DeploymentFailed'
  | 'DeploymentResumed'
  | 'ManualInterventionInterruptionRaised'
  | 'GuidedFailureInterruptionRaised'
  | 'TaskCanceled';

function describeDeployment(state: SimState, deployment: DeploymentRecord) {
  const project = state.projects.find((p) => p.id === deployment.projectId);
  const release = state.releases.find((r) => r.id === deployment.releaseId);
  const environment = state.environments.find((e) => e.id === deployment.environmentId);
  const tenant = state.tenants.find((t) => t.id === deployment.tenantId);
  return {
    projectName: project?.name ?? deployment.projectId,
    version: release?.version ?? deployment.releaseId,
    environmentName: environment?.name ?? deployment.environmentId,
    tenantName: tenant?.name,
  };
}

/** Deployments-, Projects-, Releases-, Environments-, [Tenants-,] ServerTasks-, Channels- (Octopus's order). */
export function deploymentRelatedIds(deployment: DeploymentRecord): string[] {
  return [
    deployment.id,
    deployment.projectId,
    deployment.releaseId,
    deployment.environmentId,
    ...(deployment.tenantId ? [deployment.tenantId] : []),
    deployment.taskId,
    deployment.channelId,
  ];
}

export function appendDeploymentEvent(
  state: SimState,
  category: DeploymentEventCategory,
  deployment: DeploymentRecord,
  occurred: number,
  actor: Actor,
): EventRecord {
  const d = describeDeployment(state, deployment);
  const subject = `${d.projectName} release ${d.version} to ${d.environmentName}${d.tenantName ? ` for ${d.tenantName}` : ''}`;
  const verb: Record<DeploymentEventCategory, string> = {
    DeploymentQueued: 'queued',
    DeploymentStarted: 'started',
    DeploymentSucceeded: 'succeeded',
    DeploymentFailed: 'failed',
    DeploymentResumed: 'resumed',
    ManualInterventionInterruptionRaised: 'is waiting for a manual intervention',
    GuidedFailureInterruptionRaised: 'is waiting for failure guidance',
    TaskCanceled: 'was canceled',
  };
  const when =
    category === 'DeploymentQueued' && deployment.queueTime !== undefined
      ? ` (scheduled for ${new Date(deployment.queueTime).toUTCString()})`
      : '';
  const message = `${deployment.name} ${verb[category]} for ${subject}${when}`;
  const nameEnd = deployment.name.length;
  return appendEvent(state, {
    category,
    message,
    messageHtml: `<a href='#/${state.space.id}/deployments/${deployment.id}'>${escapeHtml(deployment.name)}</a>${escapeHtml(message.slice(nameEnd))}`,
    messageReferences: [{ referencedDocumentId: deployment.id, startIndex: 0, length: nameEnd }],
    occurred,
    relatedDocumentIds: deploymentRelatedIds(deployment),
    userId: actor.userId,
    username: actor.username,
    userAgent: actor.userAgent,
    ipAddress: actor.userId === systemActor.userId ? null : '127.0.0.1',
    comments: category === 'DeploymentQueued' ? deployment.comments : null,
  });
}

export function appendEvent(
  state: SimState,
  event: Omit<EventRecord, 'id' | 'autoId'>,
): EventRecord {
  const id = nextId(state, 'Events');
  const record: EventRecord = { id, autoId: Number(id.slice('Events-'.length)), ...event };
  state.events.push(record);
  return record;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
