// Environments, in their SortOrder.
import type { OctopusContext } from './context.js';
import type { PagedAsyncIterable } from './paging.js';
import type { ListByNameOptions } from './projects.js';

export interface Environment {
  Id: string;
  Name: string;
  Slug?: string;
  Description?: string | null;
  SortOrder?: number;
  UseGuidedFailure?: boolean;
  AllowDynamicInfrastructure?: boolean;
  EnvironmentTags?: string[];
  SpaceId?: string;
}

export class EnvironmentsApi {
  constructor(private readonly ctx: OctopusContext) {}

  /** Every environment in the space, by SortOrder, in one call. */
  all(options: { ids?: readonly string[] } = {}): Promise<Environment[]> {
    return this.ctx.getArray<Environment>('/api/{spaceId}/environments/all', {
      query: { ids: options.ids },
    });
  }

  list(options: ListByNameOptions = {}): PagedAsyncIterable<Environment> {
    const { ids, partialName, ...paging } = options;
    return this.ctx.list<Environment>('/api/{spaceId}/environments', {
      ...paging,
      query: { ids, partialName },
    });
  }

  get(id: string): Promise<Environment> {
    return this.ctx.getObject<Environment>('/api/{spaceId}/environments/{id}', { params: { id } });
  }
}
