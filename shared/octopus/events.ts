// The audit log: events with filters, newest first.
import type { OctopusContext } from './context.js';
import type { PageOptions, PagedAsyncIterable } from './paging.js';

export interface OctopusEvent {
  Id: string;
  Category: string;
  Message: string;
  MessageHtml?: string;
  MessageReferences?: Array<{ ReferencedDocumentId: string; StartIndex: number; Length: number }>;
  Occurred: string;
  /** For deployments: Deployments-, Projects-, Releases-, Environments-, [Tenants-,] ServerTasks-, Channels- ids. Match by prefix. */
  RelatedDocumentIds: string[];
  UserId?: string;
  Username?: string;
  IsService?: boolean;
  IdentityEstablishedWith?: string;
  UserAgent?: string;
  IpAddress?: string | null;
  Comments?: string | null;
  Details?: string | null;
  ChangeDetails?: { DocumentContext?: unknown; Differences?: unknown };
  SpaceId?: string | null;
  Links?: Record<string, unknown>;
}

export interface EventListOptions extends PageOptions {
  from?: Date | string;
  to?: Date | string;
  eventCategories?: readonly string[];
  eventGroups?: readonly string[];
  projects?: readonly string[];
  environments?: readonly string[];
  tenants?: readonly string[];
  users?: readonly string[];
  documentTypes?: readonly string[];
  /** Events about any of these documents (e.g. a deployment id). */
  regarding?: readonly string[];
  regardingAny?: readonly string[];
  ids?: readonly string[];
  fromAutoId?: number;
  toAutoId?: number;
  excludeDifference?: boolean;
  includeInternalEvents?: boolean;
}

export interface EventCategory {
  Id: string;
  Name: string;
}

export class EventsApi {
  constructor(private readonly ctx: OctopusContext) {}

  /** Events newest first by Occurred. Reading events needs the EventView permission. */
  list(options: EventListOptions = {}): PagedAsyncIterable<OctopusEvent> {
    const { pageSize, maxItems, ...filters } = options;
    return this.ctx.list<OctopusEvent>('/api/{spaceId}/events', {
      pageSize,
      maxItems,
      query: { ...filters },
    });
  }

  get(id: string): Promise<OctopusEvent> {
    return this.ctx.getObject<OctopusEvent>('/api/events/{id}', { params: { id } });
  }

  categories(options: { appliesTo?: string } = {}): Promise<EventCategory[]> {
    return this.ctx.getArray<EventCategory>('/api/events/categories', {
      query: { appliesTo: options.appliesTo },
    });
  }
}
