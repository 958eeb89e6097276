// The events feed (newest first by Occurred) with its filters, and event categories.
import type { SimContext } from '../context.js';
import { intParam, listParam, paged, queryValue } from '../paging.js';
import { notFound, ok, route, SimHttpError, type Route, type SimRequest } from '../router.js';
import type { EventRecord } from '../store.js';
import { isoTime, parseTime } from '../time.js';

export function renderEvent(event: EventRecord, spaceId: string): Record<string, unknown> {
  return {
    Id: event.id,
    Category: event.category,
    Message: event.message,
    MessageHtml: event.messageHtml,
    MessageReferences: event.messageReferences.map((r) => ({
      ReferencedDocumentId: r.referencedDocumentId,
      StartIndex: r.startIndex,
      Length: r.length,
    })),
    Occurred: isoTime(event.occurred),
    RelatedDocumentIds: event.relatedDocumentIds,
    UserId: event.userId,
    Username: event.username,
    IsService: false,
    IdentityEstablishedWith: event.userId === 'users-system' ? '' : 'API key',
    UserAgent: event.userAgent,
    IpAddress: event.ipAddress,
    Comments: event.comments,
    Details: null,
    ChangeDetails: { DocumentContext: null, Differences: null },
    SpaceId: spaceId,
    ApiKeyId: null,
    ApiKeyHint: null,
    Links: { Self: `/api/events/${event.id}` },
  };
}

export const eventCategories = [
  'DeploymentQueued',
  'DeploymentStarted',
  'DeploymentSucceeded',
  'DeploymentFailed',
  'DeploymentResumed',
  'ManualInterventionInterruptionRaised',
  'GuidedFailureInterruptionRaised',
  'TaskCanceled',
  'Created',
  'Modified',
  'Deleted',
];

function timeParam(request: SimRequest, name: string): number | undefined {
  const raw = queryValue(request, name);
  if (raw === undefined || raw === '') return undefined;
  const ms = parseTime(raw);
  if (ms === undefined)
    throw new SimHttpError(
      400,
      `The query parameter ${name} must be an ISO 8601 date-time, not "${raw}".`,
    );
  return ms;
}

function filterEvents(request: SimRequest, sim: SimContext): EventRecord[] {
  const categories = listParam(request, 'eventCategories');
  const ids = listParam(request, 'ids');
  const related = (name: string): string[] | undefined => listParam(request, name);
  const projects = related('projects');
  const environments = related('environments');
  const tenants = related('tenants');
  const regarding = related('regarding');
  const regardingAny = related('regardingAny');
  const from = timeParam(request, 'from');
  const to = timeParam(request, 'to');
  const fromAutoId = intParam(request, 'fromAutoId');
  const toAutoId = intParam(request, 'toAutoId');
  const has = (event: EventRecord, wanted: string[] | undefined): boolean =>
    !wanted || wanted.some((id) => event.relatedDocumentIds.includes(id));
  return sim
    .state()
    .events.filter(
      (e) =>
        (!categories || categories.includes(e.category)) &&
        (!ids || ids.includes(e.id)) &&
        has(e, projects) &&
        has(e, environments) &&
        has(e, tenants) &&
        (!regarding || regarding.every((id) => e.relatedDocumentIds.includes(id))) &&
        has(e, regardingAny) &&
        (from === undefined || e.occurred >= from) &&
        (to === undefined || e.occurred <= to) &&
        (fromAutoId === undefined || e.autoId >= fromAutoId) &&
        (toAutoId === undefined || e.autoId <= toAutoId),
    )
    .sort((a, b) => b.occurred - a.occurred || b.autoId - a.autoId);
}

const queryNames = [
  'from',
  'to',
  'eventCategories',
  'projects',
  'environments',
  'tenants',
  'regarding',
  'regardingAny',
  'ids',
  'fromAutoId',
  'toAutoId',
];

export const eventRoutes: Route[] = [
  route('GET', '/api/events', (req, sim) => {
    const spaceId = sim.state().space.id;
    return ok(
      paged(
        filterEvents(req, sim),
        req,
        { itemType: 'Event', basePath: '/api/events', queryNames },
        (e) => renderEvent(e, spaceId),
      ),
    );
  }),
  route('GET', '/api/events/categories', () =>
    ok(eventCategories.map((c) => ({ Id: c, Name: c.replace(/([a-z])([A-Z])/g, '$1 $2') }))),
  ),
  route('GET', '/api/events/{id}', (req, sim) => {
    const event = sim.state().events.find((e) => e.id === req.params.id);
    if (!event) throw notFound('event', req.params.id ?? '');
    return ok(renderEvent(event, sim.state().space.id));
  }),
  route('GET', '/api/{spaceId}/events', (req, sim) => {
    const spaceId = sim.state().space.id;
    if (req.params.spaceId !== spaceId) throw notFound('space', req.params.spaceId ?? '');
    return ok(
      paged(
        filterEvents(req, sim),
        req,
        { itemType: 'Event', basePath: `/api/${spaceId}/events`, queryNames },
        (e) => renderEvent(e, spaceId),
      ),
    );
  }),
  route('GET', '/api/{spaceId}/events/{id}', (req, sim) => {
    const event = sim.state().events.find((e) => e.id === req.params.id);
    if (!event) throw notFound('event', req.params.id ?? '');
    return ok(renderEvent(event, sim.state().space.id));
  }),
];
