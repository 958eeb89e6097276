// Octopus webhook events as the event store's tests build them.
import type { OctopusWebhookEvent } from '../../shared/events/payload.js';

/** A DeploymentSucceeded event `id` (Deployments-1 of Projects-1 into Environments-1, Spaces-1). */
export function deploySucceededEvent(
  id: string,
  message = 'Deploy succeeded',
): OctopusWebhookEvent {
  return {
    Id: id,
    Category: 'DeploymentSucceeded',
    Occurred: '2026-12-01T10:00:00Z',
    RelatedDocumentIds: ['Deployments-1', 'Projects-1', 'Environments-1'],
    SpaceId: 'Spaces-1',
    Message: message,
  };
}
