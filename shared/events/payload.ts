// The webhook payload Octopus subscriptions POST, as a tolerant schema (octopus-api.md §9) and typed events.
import { z } from 'zod';

/** Counts are numbers on real servers and strings in Octopus's docs: accept both. */
const count = z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]);

/** `Links` values are paths or templates, but an old server sent `{"Self": {}}`: keep them loose. */
const links = z.record(z.string(), z.unknown()).nullish();

/** Enums were numbers on old servers (`"Type": 0`): accept a string or a number, keep it as text. */
const looseEnum = z.union([z.string(), z.number().transform(String)]);

export const octopusEventSchema = z.looseObject({
  Id: z.string().min(1, 'must be the event id, e.g. Events-1203351'),
  Category: looseEnum,
  Message: z.string().nullish(),
  MessageHtml: z.string().nullish(),
  Occurred: z.string().min(1),
  RelatedDocumentIds: z
    .array(z.string())
    .nullish()
    .transform((v) => v ?? []),
  UserId: z.string().nullish(),
  Username: z.string().nullish(),
  IsService: z.boolean().nullish(),
  UserAgent: z.string().nullish(),
  Comments: z.string().nullish(),
  Details: z.string().nullish(),
  SpaceId: z.string().nullish(),
  Links: links,
});

export const subscriptionPayloadSchema = z.looseObject({
  Timestamp: z.string().nullish(),
  EventType: looseEnum.nullish(),
  Payload: z.looseObject({
    ServerUri: z.string().nullish(),
    ServerAuditUri: z.string().nullish(),
    BatchProcessingDate: z.string().nullish(),
    BatchId: z.string().nullish(),
    TotalEventsInBatch: count.nullish(),
    EventNumberInBatch: count.nullish(),
    Subscription: z
      .looseObject({
        Id: z.string().nullish(),
        Name: z.string().nullish(),
        SpaceId: z.string().nullish(),
      })
      .nullish(),
    Event: octopusEventSchema,
  }),
});

export type SubscriptionPayload = z.output<typeof subscriptionPayloadSchema>;
/** One audit event as Octopus sent it (PascalCase, extra fields kept). */
export type OctopusWebhookEvent = z.output<typeof octopusEventSchema>;

export const deploymentCategories = [
  'DeploymentQueued',
  'DeploymentStarted',
  'DeploymentSucceeded',
  'DeploymentFailed',
  'DeploymentResumed',
  'ManualInterventionInterruptionRaised',
  'GuidedFailureInterruptionRaised',
] as const;
export type DeploymentCategory = (typeof deploymentCategories)[number];

/** What a deployment event is about, read from `RelatedDocumentIds` by prefix. */
export interface DeploymentEventFacts {
  category: DeploymentCategory;
  eventId: string;
  occurred: string;
  spaceId: string | undefined;
  deploymentId: string;
  projectId: string;
  environmentId: string;
  releaseId: string | undefined;
  tenantId: string | undefined;
  taskId: string | undefined;
  channelId: string | undefined;
  username: string | undefined;
}

/** The first related document id of a kind (`Projects`, `Environments`, ...). */
export function relatedId(event: OctopusWebhookEvent, kind: string): string | undefined {
  return event.RelatedDocumentIds.find((id) => id.startsWith(`${kind}-`));
}

function isDeploymentCategory(category: string): category is DeploymentCategory {
  return (deploymentCategories as readonly string[]).includes(category);
}

/** The typed facts of a deployment event, or undefined for any other kind of event. */
export function deploymentEventFacts(event: OctopusWebhookEvent): DeploymentEventFacts | undefined {
  if (!isDeploymentCategory(event.Category)) return undefined;
  const deploymentId = relatedId(event, 'Deployments');
  const projectId = relatedId(event, 'Projects');
  const environmentId = relatedId(event, 'Environments');
  if (!deploymentId || !projectId || !environmentId) return undefined;
  return {
    category: event.Category,
    eventId: event.Id,
    occurred: event.Occurred,
    spaceId: event.SpaceId ?? undefined,
    deploymentId,
    projectId,
    environmentId,
    releaseId: relatedId(event, 'Releases'),
    tenantId: relatedId(event, 'Tenants'),
    taskId: relatedId(event, 'ServerTasks'),
    channelId: relatedId(event, 'Channels'),
    username: event.Username ?? undefined,
  };
}
