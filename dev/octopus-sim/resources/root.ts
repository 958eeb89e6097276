// The /api root document, the space root and spaces.
import type { SimContext } from '../context.js';
import { listParam, paged, queryValue } from '../paging.js';
import { notFound, ok, route, type Route } from '../router.js';
import type { SpaceRecord } from '../store.js';

export const installationId = '7f1c8e0a-5b2d-4c3e-9f10-0a1b2c3d4e5f';

export function renderSpace(space: SpaceRecord): Record<string, unknown> {
  return {
    Id: space.id,
    Name: space.name,
    Slug: space.slug,
    Description: space.description,
    IsDefault: true,
    TaskQueueStopped: false,
    SpaceManagersTeams: ['teams-spacemanagers-Spaces-1'],
    SpaceManagersTeamMembers: [],
    LastModifiedOn: null,
    LastModifiedBy: null,
    Links: {
      Self: `/api/spaces/${space.id}`,
      SpaceHome: `/api/${space.id}`,
      Web: `/app#/spaces/${space.id}`,
    },
  };
}

function spaceLinks(spaceId: string): Record<string, string> {
  const s = `/api/${spaceId}`;
  return {
    Self: s,
    SpaceHome: s,
    Projects: `${s}/projects{/id}{?name,skip,ids,clone,take,partialName,clonedFromProjectId}`,
    Environments: `${s}/environments{/id}{?name,skip,ids,take,partialName}`,
    Tenants: `${s}/tenants{/id}{?skip,projectId,name,tags,take,ids,clone,partialName,clonedFromTenantId}`,
    Lifecycles: `${s}/lifecycles{/id}{?skip,take,ids,partialName}`,
    Channels: `${s}/channels{/id}{?skip,take,ids,partialName}`,
    Releases: `${s}/releases{/id}{?skip,take,ids}`,
    Deployments: `${s}/deployments{/id}{?skip,take,ids,projects,environments,tenants,channels,taskState,partialName}`,
    Tasks: `${s}/tasks{/id}{?skip,take,ids,name,states,project,environment,tenant,runbook,active,running,fromCompletedDate,toCompletedDate,fromQueueDate,toQueueDate,fromStartDate,toStartDate}`,
    Dashboard: `${s}/dashboard{?projectId,releaseId,selectedTenants,selectedTags,showAll,highestLatestVersionPerProjectAndEnvironment}`,
    DashboardDynamic: `${s}/dashboard/dynamic{?projects,environments,includePrevious}`,
    Events: `${s}/events{/id}{?skip,regarding,regardingAny,user,users,projects,environments,eventGroups,eventCategories,eventAgents,tenants,tags,fromAutoId,toAutoId,documentTypes,from,to,take}`,
    EventCategories: '/api/events/categories{?appliesTo}',
    EventGroups: '/api/events/groups{?appliesTo}',
    Interruptions: `${s}/interruptions{/id}{?skip,take,regarding,pendingOnly,ids}`,
    Subscriptions: `${s}/subscriptions{/id}{?skip,take,ids,partialName,spaces}`,
    ProjectTriggers: `${s}/projecttriggers{/id}{?skip,take,ids,runbooks}`,
    Runbooks: `${s}/runbooks{/id}{?skip,take,ids,partialName,clone,projectIds}`,
    RunbookRuns: `${s}/runbookRuns{/id}{?skip,take,ids,projects,environments,tenants,runbooks,taskState,partialName}`,
    Spaces: '/api/spaces{/id}{?skip,ids,take,partialName}',
    CurrentUser: '/api/users/me',
  };
}

function rootDocument(sim: SimContext): Record<string, unknown> {
  const spaceId = sim.state().space.id;
  return {
    Application: 'Octopus Deploy',
    Version: '2026.3.1234',
    ApiVersion: '3.0.0',
    InstallationId: installationId,
    HasLongTermSupport: false,
    IsEarlyAccessProgram: false,
    Links: {
      ...spaceLinks(spaceId),
      Self: '/api',
      SpaceHome: '/api/{spaceId}',
      Tasks:
        '/api/tasks{/id}{?skip,active,environment,tenant,runbook,project,name,node,running,states,hasPendingInterruptions,hasWarningsOrErrors,take,ids,partialName,spaces,includeSystem,description,fromCompletedDate,toCompletedDate,fromQueueDate,toQueueDate,fromStartDate,toStartDate}',
      Events:
        '/api/events{/id}{?skip,regarding,regardingAny,user,users,projects,environments,eventGroups,eventCategories,eventAgents,tenants,tags,fromAutoId,toAutoId,documentTypes,from,to,take,spaces,includeSystem}',
    },
  };
}

function findSpace(sim: SimContext, idOrSlug: string): SpaceRecord {
  const space = sim.state().space;
  const key = idOrSlug.toLowerCase();
  if (space.id.toLowerCase() === key || space.slug === key) return space;
  throw notFound('space', idOrSlug);
}

export const rootRoutes: Route[] = [
  route('GET', '/api', (_req, sim) => ok(rootDocument(sim))),
  route('GET', '/api/spaces', (req, sim) => {
    const space = sim.state().space;
    const ids = listParam(req, 'ids');
    const partial = queryValue(req, 'partialName')?.toLowerCase();
    const items = [space].filter(
      (s) => (!ids || ids.includes(s.id)) && (!partial || s.name.toLowerCase().includes(partial)),
    );
    return ok(
      paged(
        items,
        req,
        { itemType: 'Space', basePath: '/api/spaces', queryNames: ['ids', 'partialName'] },
        renderSpace,
      ),
    );
  }),
  route('GET', '/api/spaces/all', (_req, sim) => ok([renderSpace(sim.state().space)])),
  route('GET', '/api/spaces/{id}', (req, sim) =>
    ok(renderSpace(findSpace(sim, req.params.id ?? ''))),
  ),
  route('GET', '/api/{spaceId}', (req, sim) => {
    const space = findSpace(sim, req.params.spaceId ?? '');
    return ok({ Id: space.id, Name: space.name, Links: spaceLinks(space.id) });
  }),
  route('GET', '/api/users/me', (_req, sim) =>
    ok({
      Id: sim.apiUser.userId,
      Username: sim.apiUser.username,
      DisplayName: sim.apiUser.username,
      IsService: true,
      IsActive: true,
      Links: { Self: `/api/users/${sim.apiUser.userId}` },
    }),
  ),
];
