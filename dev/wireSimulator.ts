// Point the Octopus simulator's subscription at the coordinator's webhook, as a person would in Octopus.
import { deploymentCategories } from '../shared/events/payload.js';

export interface WireSimulatorOptions {
  simulatorUrl: string;
  apiKey: string;
  /** The coordinator's base URL, e.g. the dev host's `host.url`. */
  coordinatorUrl: string;
  /** WEBHOOK_SECRET_HEADER and WEBHOOK_SECRET. */
  header: string;
  secret: string;
  /** Added as `?code=` when the host requires a function key. */
  functionKey?: string;
  /** Space name or id; default the simulator's first space. */
  space?: string;
  name?: string;
  categories?: readonly string[];
}

async function call(
  options: WireSimulatorOptions,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const response = await fetch(`${options.simulatorUrl}${path}`, {
    method,
    headers: {
      'X-Octopus-ApiKey': options.apiKey,
      'Content-Type': 'application/json',
      Accept: 'application/json',
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok)
    throw new Error(
      `The simulator answered ${method} ${path} with HTTP ${response.status}: ${text.slice(0, 300)}`,
    );
  return text ? (JSON.parse(text) as unknown) : undefined;
}

/** Create (or update) the subscription; returns its id and the webhook URL it posts to. */
export async function wireSimulatorToCoordinator(
  options: WireSimulatorOptions,
): Promise<{ subscriptionId: string; webhookUrl: string }> {
  const spaces = (await call(options, 'GET', '/api/spaces/all')) as { Id: string; Name: string }[];
  const wanted = options.space?.toLowerCase();
  const space =
    spaces.find(
      (s) => !wanted || s.Id.toLowerCase() === wanted || s.Name.toLowerCase() === wanted,
    ) ?? spaces[0];
  if (!space) throw new Error('The simulator has no space to subscribe to.');
  const name = options.name ?? 'Octopus Coordinator';
  const webhookUrl = `${options.coordinatorUrl.replace(/\/+$/, '')}/api/octopus/events${options.functionKey ? `?code=${encodeURIComponent(options.functionKey)}` : ''}`;
  const body = {
    Name: name,
    Type: 'Event',
    IsDisabled: false,
    EventNotificationSubscription: {
      Filter: { EventCategories: [...(options.categories ?? deploymentCategories)] },
      WebhookURI: webhookUrl,
      WebhookTimeout: '00:00:10',
      WebhookHeaderKey: options.header,
      WebhookHeaderValue: {
        IsSensitive: true,
        Value: null,
        SensitiveValue: { HasValue: true, NewValue: options.secret, Hint: null },
      },
    },
  };
  const existing = (
    (await call(options, 'GET', `/api/${space.Id}/subscriptions/all`)) as {
      Id: string;
      Name: string;
    }[]
  ).find((s) => s.Name.toLowerCase() === name.toLowerCase());
  const saved = (await call(
    options,
    existing ? 'PUT' : 'POST',
    existing ? `/api/${space.Id}/subscriptions/${existing.Id}` : `/api/${space.Id}/subscriptions`,
    body,
  )) as { Id: string };
  return { subscriptionId: saved.Id, webhookUrl };
}
