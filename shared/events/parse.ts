// Step 2 of receiving a webhook: JSON, then the subscription payload schema; 400 says what is wrong.
import { describeIssues, parseJsonText } from '../http/body.js';
import { HttpError } from '../http/errors.js';
import { subscriptionPayloadSchema, type SubscriptionPayload } from './payload.js';

export function parseSubscriptionPayload(text: string): SubscriptionPayload {
  const value = parseJsonText(
    text,
    'This endpoint takes the payload an Octopus subscription webhook sends.',
  );
  const parsed = subscriptionPayloadSchema.safeParse(value);
  if (!parsed.success) {
    const problems = describeIssues(parsed.error.issues);
    throw new HttpError(
      400,
      'not_a_subscription_payload',
      `The body is not an Octopus subscription payload: ${problems.join('; ')}. Point only Octopus subscription webhooks at this endpoint.`,
      { problems },
    );
  }
  return parsed.data;
}
