// Octopus events in: the webhook's steps (verify, read, parse, store, process) and the consumer interface.
export { receiveOctopusEvent, type WebhookAnswer } from './receive.js';
export type { EventConsumer, EventContext } from './consumers.js';
export {
  deploymentCategories,
  deploymentEventFacts,
  relatedId,
  type DeploymentCategory,
  type DeploymentEventFacts,
  type OctopusWebhookEvent,
} from './payload.js';
export { processPendingEvents, processStoredEvents } from './process.js';
export {
  eventsPoisonQueueName,
  eventsQueueName,
  immediateProcessingIdle,
  processEventsMessage,
} from './queue.js';
export { storeHeldEvents, unstoredEventCount } from './unstored.js';
