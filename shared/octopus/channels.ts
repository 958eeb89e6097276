// Channels of a project (a channel may override the project's lifecycle).
import type { OctopusContext } from './context.js';
import type { PageOptions, PagedAsyncIterable } from './paging.js';

export interface Channel {
  Id: string;
  Name: string;
  Slug?: string;
  ProjectId: string;
  /** Null means the project's lifecycle. */
  LifecycleId?: string | null;
  IsDefault?: boolean;
  Rules?: unknown[];
  TenantTags?: string[];
  SpaceId?: string;
}

export class ChannelsApi {
  constructor(private readonly ctx: OctopusContext) {}

  listForProject(
    projectId: string,
    options: PageOptions & { partialName?: string } = {},
  ): PagedAsyncIterable<Channel> {
    const { partialName, ...paging } = options;
    return this.ctx.list<Channel>('/api/{spaceId}/projects/{projectId}/channels', {
      ...paging,
      params: { projectId },
      query: { partialName },
    });
  }

  get(id: string): Promise<Channel> {
    return this.ctx.getObject<Channel>('/api/{spaceId}/channels/{id}', { params: { id } });
  }
}
