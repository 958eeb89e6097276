// Releases of a project, and where a release may be deployed next.
import type { OctopusContext } from './context.js';
import type { Deployment } from './deployments.js';
import { collect, getManyByIds, type PageOptions, type PagedAsyncIterable } from './paging.js';

export interface SelectedPackage {
  ActionName?: string;
  PackageReferenceName?: string;
  Version: string;
}

export interface Release {
  Id: string;
  Version: string;
  ProjectId: string;
  ChannelId?: string;
  /** When the release was created. */
  Assembled?: string;
  ReleaseNotes?: string | null;
  SelectedPackages?: SelectedPackage[];
  BuildInformation?: unknown[];
  IgnoreChannelRules?: boolean;
  CustomFields?: Record<string, string>;
  SpaceId?: string;
  Links?: Record<string, string>;
}

export interface NamedReference {
  Id: string;
  Name: string;
}

/** `GET /releases/{id}/deployments/template`: where the release may be deployed now. */
export interface ReleaseDeploymentTemplate {
  PromoteTo: NamedReference[];
  TenantPromotions?: Array<NamedReference & { PromoteTo: NamedReference[] }>;
  [field: string]: unknown;
}

export class ReleasesApi {
  constructor(private readonly ctx: OctopusContext) {}

  /** A project's releases, newest first by creation (not by version). `searchByVersion` is a contains-match. */
  listForProject(
    projectId: string,
    options: PageOptions & { searchByVersion?: string; channelId?: string } = {},
  ): PagedAsyncIterable<Release> {
    const { searchByVersion, channelId, ...paging } = options;
    if (channelId !== undefined) {
      return this.ctx.list<Release>(
        '/api/{spaceId}/projects/{projectId}/channels/{channelId}/releases',
        {
          ...paging,
          params: { projectId, channelId },
          query: { searchByVersion },
        },
      );
    }
    return this.ctx.list<Release>('/api/{spaceId}/projects/{projectId}/releases', {
      ...paging,
      params: { projectId },
      query: { searchByVersion },
    });
  }

  /** The release with exactly this version, or undefined. */
  byVersion(projectId: string, version: string): Promise<Release | undefined> {
    return this.ctx.findObject<Release>('/api/{spaceId}/projects/{projectId}/releases/{version}', {
      params: { projectId, version },
    });
  }

  /** The newest release by creation time (of a channel, if given), or undefined when there is none. */
  async latest(
    projectId: string,
    options: { channelId?: string } = {},
  ): Promise<Release | undefined> {
    const [first] = await collect(this.listForProject(projectId, { ...options, maxItems: 1 }));
    return first;
  }

  get(id: string): Promise<Release> {
    return this.ctx.getObject<Release>('/api/{spaceId}/releases/{id}', { params: { id } });
  }

  /** Releases by id, in batches; ids that do not exist are simply missing from the result. */
  getMany(ids: readonly string[]): Promise<Release[]> {
    return getManyByIds(ids, (batch) =>
      this.ctx.list<Release>('/api/{spaceId}/releases', {
        pageSize: batch.length,
        query: { ids: batch },
      }),
    );
  }

  /** Deployments of one release, newest first. */
  deployments(releaseId: string, options: PageOptions = {}): PagedAsyncIterable<Deployment> {
    return this.ctx.list<Deployment>('/api/{spaceId}/releases/{releaseId}/deployments', {
      ...options,
      params: { releaseId },
    });
  }

  /** Where this release may be promoted now (`PromoteTo`), as the server's lifecycle rules say. */
  deploymentTemplate(releaseId: string): Promise<ReleaseDeploymentTemplate> {
    return this.ctx.getObject<ReleaseDeploymentTemplate>(
      '/api/{spaceId}/releases/{releaseId}/deployments/template',
      {
        params: { releaseId },
      },
    );
  }
}
