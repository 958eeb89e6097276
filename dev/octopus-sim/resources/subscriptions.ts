// Subscriptions (CRUD + /all); their webhooks are sent by ../webhooks.ts.
import type { SimContext } from '../context.js';
import { field, paged, stringArrayField, stringField } from '../paging.js';
import { ok, route, SimHttpError, type Route } from '../router.js';
import { nextId, type SimState, type SubscriptionRecord } from '../store.js';
import { isoTime, parseTimeSpan } from '../time.js';
import { byName, filterByIdsAndName, findById, spaceOf } from './common.js';

export const filterNames = [
  'Users',
  'Projects',
  'ProjectGroups',
  'Environments',
  'EventGroups',
  'EventCategories',
  'EventAgents',
  'Tenants',
  'Tags',
  'DocumentTypes',
];

/** The header value as a resource shows it: sensitive values are never echoed. */
export function shownHeaderValue(value: unknown, inPayload: boolean): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return inPayload ? null : value;
  const sensitive = field(value, 'IsSensitive') === true;
  if (inPayload) return sensitive ? null : (field(value, 'Value') ?? null);
  return sensitive
    ? {
        IsSensitive: true,
        Value: null,
        SensitiveValue: { HasValue: true, NewValue: null, Hint: null },
      }
    : { IsSensitive: false, Value: field(value, 'Value') ?? null, SensitiveValue: null };
}

/** The header value to send, whichever form it was given in. */
export function actualHeaderValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const plain = field(value, 'Value');
  if (typeof plain === 'string') return plain;
  const newValue = field(field(value, 'SensitiveValue'), 'NewValue');
  return typeof newValue === 'string' ? newValue : undefined;
}

export function renderSubscription(
  sub: SubscriptionRecord,
  state: SimState,
  inPayload = false,
): Record<string, unknown> {
  const spaceId = state.space.id;
  const filter: Record<string, string[]> = {};
  for (const name of filterNames) filter[name] = sub.filter[name] ?? [];
  return {
    Id: sub.id,
    Name: sub.name,
    Type: 'Event',
    IsDisabled: sub.isDisabled,
    EventNotificationSubscription: {
      Filter: filter,
      EmailTeams: [],
      EmailFrequencyPeriod: '01:00:00',
      EmailPriority: 'Normal',
      EmailDigestLastProcessed: null,
      EmailDigestLastProcessedEventAutoId: null,
      EmailShowDatesInTimeZoneId: 'UTC',
      WebhookURI: sub.webhookUri,
      WebhookTeams: sub.webhookTeams,
      WebhookTimeout: sub.webhookTimeout,
      WebhookHeaderKey: sub.webhookHeaderKey,
      WebhookHeaderValue: shownHeaderValue(sub.webhookHeaderValue, inPayload),
      WebhookLastProcessed: isoTime(sub.lastModified),
      WebhookLastProcessedEventAutoId: sub.lastProcessedEventAutoId,
    },
    SpaceId: spaceId,
    Links: { Self: `/api/${spaceId}/subscriptions/${sub.id}` },
  };
}

function applyBody(sub: SubscriptionRecord, body: unknown): void {
  const name = stringField(body, 'Name');
  if (name) sub.name = name;
  const disabled = field(body, 'IsDisabled');
  if (typeof disabled === 'boolean') sub.isDisabled = disabled;
  const notification = field(body, 'EventNotificationSubscription');
  if (notification === undefined) return;
  const filter = field(notification, 'Filter');
  if (filter !== undefined)
    for (const f of filterNames) sub.filter[f] = stringArrayField(filter, f);
  const uri = field(notification, 'WebhookURI');
  if (typeof uri === 'string') sub.webhookUri = uri;
  const timeout = field(notification, 'WebhookTimeout');
  if (typeof timeout === 'string') {
    if (parseTimeSpan(timeout) === undefined)
      throw new SimHttpError(400, 'There was a problem with your request.', [
        `WebhookTimeout must be a TimeSpan like "00:00:10", not "${timeout}".`,
      ]);
    sub.webhookTimeout = timeout;
  }
  const key = field(notification, 'WebhookHeaderKey');
  if (typeof key === 'string' || key === null) sub.webhookHeaderKey = key;
  const value = field(notification, 'WebhookHeaderValue');
  if (value !== undefined) {
    // Sending back a masked sensitive value keeps the stored secret.
    const masked = field(value, 'IsSensitive') === true && actualHeaderValue(value) === undefined;
    if (!masked) sub.webhookHeaderValue = value;
  }
  const teams = field(notification, 'WebhookTeams');
  if (Array.isArray(teams)) sub.webhookTeams = stringArrayField(notification, 'WebhookTeams');
}

function byId(sim: SimContext, id: string): SubscriptionRecord {
  return findById(sim.state().subscriptions, id, 'subscription');
}

export const subscriptionRoutes: Route[] = [
  route('GET', '/api/{spaceId}/subscriptions', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const items = byName(filterByIdsAndName(sim.state().subscriptions, req));
    return ok(
      paged(
        items,
        req,
        {
          itemType: 'Subscription',
          basePath: `/api/${spaceId}/subscriptions`,
          queryNames: ['ids', 'partialName'],
        },
        (s) => renderSubscription(s, sim.state()),
      ),
    );
  }),
  route('GET', '/api/{spaceId}/subscriptions/all', (req, sim) => {
    spaceOf(req, sim);
    return ok(byName(sim.state().subscriptions).map((s) => renderSubscription(s, sim.state())));
  }),
  route('POST', '/api/{spaceId}/subscriptions', (req, sim) => {
    spaceOf(req, sim);
    sim.engine.catchUp();
    const state = sim.state();
    const name = stringField(req.body, 'Name');
    if (!name)
      throw new SimHttpError(400, 'There was a problem with your request.', ['Name is required.']);
    if (state.subscriptions.some((s) => s.name.toLowerCase() === name.toLowerCase()))
      throw new SimHttpError(400, 'There was a problem with your request.', [
        `A subscription named "${name}" already exists.`,
      ]);
    const sub: SubscriptionRecord = {
      id: nextId(state, 'Subscriptions'),
      name,
      isDisabled: false,
      filter: {},
      webhookUri: '',
      webhookTimeout: '00:00:10',
      webhookHeaderKey: null,
      webhookHeaderValue: null,
      webhookTeams: [],
      // Only events after the subscription was created are sent.
      lastProcessedEventAutoId: state.events.reduce((max, e) => Math.max(max, e.autoId), 0),
      lastModified: sim.clock.now(),
    };
    applyBody(sub, req.body);
    state.subscriptions.push(sub);
    return ok(renderSubscription(sub, state), 201);
  }),
  route('GET', '/api/{spaceId}/subscriptions/{id}', (req, sim) => {
    spaceOf(req, sim);
    return ok(renderSubscription(byId(sim, req.params.id ?? ''), sim.state()));
  }),
  route('PUT', '/api/{spaceId}/subscriptions/{id}', (req, sim) => {
    spaceOf(req, sim);
    const sub = byId(sim, req.params.id ?? '');
    applyBody(sub, req.body);
    sub.lastModified = sim.clock.now();
    return ok(renderSubscription(sub, sim.state()));
  }),
  route('DELETE', '/api/{spaceId}/subscriptions/{id}', (req, sim) => {
    spaceOf(req, sim);
    const sub = byId(sim, req.params.id ?? '');
    const state = sim.state();
    state.subscriptions = state.subscriptions.filter((s) => s !== sub);
    return { status: 204 };
  }),
];
