// Projects: the units people deploy, named in the coordination config.
import type { OctopusContext } from './context.js';
import { tenantedModeFromWire, type TenantedDeploymentMode } from './enums.js';
import type { PageOptions, PagedAsyncIterable } from './paging.js';

export interface Project {
  Id: string;
  Name: string;
  Slug?: string;
  Description?: string | null;
  ProjectGroupId?: string;
  LifecycleId?: string;
  IsDisabled?: boolean;
  TenantedDeploymentMode?: TenantedDeploymentMode;
  DeploymentProcessId?: string;
  VariableSetId?: string;
  AutoCreateRelease?: boolean;
  IsVersionControlled?: boolean;
  SpaceId?: string;
  Links?: Record<string, string>;
}

export interface ListByNameOptions extends PageOptions {
  ids?: readonly string[];
  partialName?: string;
}

function normalizeProject(p: Project): Project {
  return p.TenantedDeploymentMode === undefined
    ? p
    : { ...p, TenantedDeploymentMode: tenantedModeFromWire(p.TenantedDeploymentMode) };
}

export class ProjectsApi {
  constructor(private readonly ctx: OctopusContext) {}

  /** Every project in the space, alphabetical, in one call. */
  async all(options: { ids?: readonly string[] } = {}): Promise<Project[]> {
    const items = await this.ctx.getArray<Project>('/api/{spaceId}/projects/all', {
      query: { ids: options.ids },
    });
    return items.map(normalizeProject);
  }

  list(options: ListByNameOptions = {}): PagedAsyncIterable<Project> {
    const { ids, partialName, ...paging } = options;
    return this.ctx.list<Project>(
      '/api/{spaceId}/projects',
      { ...paging, query: { ids, partialName } },
      normalizeProject,
    );
  }

  async get(id: string): Promise<Project> {
    return normalizeProject(
      await this.ctx.getObject<Project>('/api/{spaceId}/projects/{id}', { params: { id } }),
    );
  }
}
