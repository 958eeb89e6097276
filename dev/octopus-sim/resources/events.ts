// The events feed (newest first by Occurred) with its filters, and event categories.
import type { SimContext } from '../context.js';
import { dateTimeParam, intParam, listParam, paged } from '../paging.js';
import { notFound, ok, route, type Route, type SimRequest } from '../router.js';
import type { EventRecord } from '../store.js';
import { isoTime } from '../time.js';
import { findById } from './common.js';

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

function filterEvents(request: SimRequest, sim: SimContext): EventRecord[] {
  const categories = listParam(request, 'eventCategories');
  const ids = listParam(request, 'ids');
  const related = (name: string): string[] | undefined => listParam(request, name);
  const projects = related('projects');
  const environments = related('environments');
  const tenants = related('tenants');
  const regarding = related('regarding');
  const regardingAny = related('regardingAny');
  const from = dateTimeParam(request, 'from');
  const to = dateTimeParam(request, 'to');
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
    const event = findById(sim.state().events, req.params.id, 'event');
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
    const event = findById(sim.state().events, req.params.id, 'event');
    return ok(renderEvent(event, sim.state().space.id));
  }),
];
