// Projects and their channels.
import type { SimContext } from '../context.js';
import { listParam, paged } from '../paging.js';
import { notFound, ok, route, type Route } from '../router.js';
import type { ChannelRecord, ProjectRecord } from '../store.js';
import { byName, filterByIdsAndName, findById, spaceOf } from './common.js';

export const projectGroupId = 'ProjectGroups-1';

export function renderProject(project: ProjectRecord, spaceId: string): Record<string, unknown> {
  const base = `/api/${spaceId}/projects/${project.id}`;
  return {
    Id: project.id,
    Name: project.name,
    Slug: project.slug,
    Description: project.description,
    ProjectGroupId: projectGroupId,
    LifecycleId: project.lifecycleId,
    IsDisabled: project.isDisabled,
    TenantedDeploymentMode: project.tenantedDeploymentMode,
    DeploymentProcessId: project.deploymentProcessId,
    VariableSetId: project.variableSetId,
    AutoCreateRelease: false,
    IsVersionControlled: false,
    DiscreteChannelRelease: false,
    IncludedLibraryVariableSetIds: [],
    DefaultGuidedFailureMode: 'EnvironmentDefault',
    SpaceId: spaceId,
    Links: {
      Self: base,
      Releases: `${base}/releases{/version}{?skip,take,searchByVersion}`,
      Channels: `${base}/channels{?skip,take,partialName}`,
      Runbooks: `${base}/runbooks{?skip,take,partialName}`,
      Web: `/app#/${spaceId}/projects/${project.id}`,
    },
  };
}

export function renderChannel(channel: ChannelRecord, spaceId: string): Record<string, unknown> {
  return {
    Id: channel.id,
    Name: channel.name,
    Slug: channel.slug,
    Description: '',
    ProjectId: channel.projectId,
    LifecycleId: channel.lifecycleId,
    IsDefault: channel.isDefault,
    Rules: [],
    TenantTags: [],
    SpaceId: spaceId,
    Links: {
      Self: `/api/${spaceId}/channels/${channel.id}`,
      Project: `/api/${spaceId}/projects/${channel.projectId}`,
      Releases: `/api/${spaceId}/projects/${channel.projectId}/channels/${channel.id}/releases{?skip,take,searchByVersion}`,
    },
  };
}

/** A project by id or slug, as Octopus accepts both in routes. */
export function projectFromRoute(sim: SimContext, key: string): ProjectRecord {
  const lower = key.toLowerCase();
  const project = sim
    .state()
    .projects.find((p) => p.id.toLowerCase() === lower || p.slug === lower);
  if (!project) throw notFound('project', key);
  return project;
}

export const projectRoutes: Route[] = [
  route('GET', '/api/{spaceId}/projects', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const items = byName(filterByIdsAndName(sim.state().projects, req));
    return ok(
      paged(
        items,
        req,
        {
          itemType: 'Project',
          basePath: `/api/${spaceId}/projects`,
          queryNames: ['ids', 'partialName', 'name'],
        },
        (p) => renderProject(p, spaceId),
      ),
    );
  }),
  route('GET', '/api/{spaceId}/projects/all', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    return ok(
      byName(filterByIdsAndName(sim.state().projects, req)).map((p) => renderProject(p, spaceId)),
    );
  }),
  route('GET', '/api/{spaceId}/projects/{id}', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    return ok(renderProject(projectFromRoute(sim, req.params.id ?? ''), spaceId));
  }),
  route('GET', '/api/{spaceId}/projects/{projectId}/channels', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const project = projectFromRoute(sim, req.params.projectId ?? '');
    const items = filterByIdsAndName(
      sim.state().channels.filter((c) => c.projectId === project.id),
      req,
    );
    return ok(
      paged(
        items,
        req,
        {
          itemType: 'Channel',
          basePath: `/api/${spaceId}/projects/${project.id}/channels`,
          queryNames: ['partialName'],
        },
        (c) => renderChannel(c, spaceId),
      ),
    );
  }),
  route('GET', '/api/{spaceId}/channels', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const items = filterByIdsAndName(sim.state().channels, req);
    return ok(
      paged(
        items,
        req,
        {
          itemType: 'Channel',
          basePath: `/api/${spaceId}/channels`,
          queryNames: ['ids', 'partialName'],
        },
        (c) => renderChannel(c, spaceId),
      ),
    );
  }),
  route('GET', '/api/{spaceId}/channels/all', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const ids = listParam(req, 'ids');
    return ok(
      sim
        .state()
        .channels.filter((c) => !ids || ids.includes(c.id))
        .map((c) => renderChannel(c, spaceId)),
    );
  }),
  route('GET', '/api/{spaceId}/channels/{id}', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const channel = findById(sim.state().channels, req.params.id, 'channel');
    return ok(renderChannel(channel, spaceId));
  }),
];
