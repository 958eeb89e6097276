// Tenants, and where each may be deployed.
import type { OctopusContext } from './context.js';
import type { PagedAsyncIterable } from './paging.js';
import type { ListByNameOptions } from './projects.js';

export interface Tenant {
  Id: string;
  Name: string;
  Slug?: string;
  Description?: string | null;
  IsDisabled?: boolean;
  TenantTags?: string[];
  /** Where the tenant may be deployed: project id → environment ids. */
  ProjectEnvironments?: Record<string, string[]>;
  SpaceId?: string;
}

export class TenantsApi {
  constructor(private readonly ctx: OctopusContext) {}

  /** Every tenant in the space (optionally those connected to a project), alphabetical, in one call. */
  all(options: { ids?: readonly string[]; projectId?: string } = {}): Promise<Tenant[]> {
    return this.ctx.getArray<Tenant>('/api/{spaceId}/tenants/all', {
      query: { ids: options.ids, projectId: options.projectId },
    });
  }

  list(
    options: ListByNameOptions & { projectId?: string; tags?: readonly string[] } = {},
  ): PagedAsyncIterable<Tenant> {
    const { ids, partialName, projectId, tags, ...paging } = options;
    return this.ctx.list<Tenant>('/api/{spaceId}/tenants', {
      ...paging,
      query: { ids, partialName, projectId, tags },
    });
  }

  get(id: string): Promise<Tenant> {
    return this.ctx.getObject<Tenant>('/api/{spaceId}/tenants/{id}', { params: { id } });
  }
}
