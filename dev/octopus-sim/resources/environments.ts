// Environments, in SortOrder.
import { listParam, paged, queryValue } from '../paging.js';
import { ok, route, type Route } from '../router.js';
import type { EnvironmentRecord } from '../store.js';
import { filterByIdsAndName, findById, spaceOf } from './common.js';

export function renderEnvironment(
  environment: EnvironmentRecord,
  spaceId: string,
): Record<string, unknown> {
  return {
    Id: environment.id,
    Name: environment.name,
    Slug: environment.slug,
    Description: environment.description,
    SortOrder: environment.sortOrder,
    UseGuidedFailure: environment.useGuidedFailure,
    AllowDynamicInfrastructure: false,
    EnvironmentTags: [],
    ExtensionSettings: [],
    SpaceId: spaceId,
    Links: {
      Self: `/api/${spaceId}/environments/${environment.id}`,
      Web: `/app#/${spaceId}/infrastructure/environments/${environment.id}`,
    },
  };
}

export const environmentRoutes: Route[] = [
  route('GET', '/api/{spaceId}/environments', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const items = filterByIdsAndName(sim.state().environments, req);
    return ok(
      paged(
        items,
        req,
        {
          itemType: 'Environment',
          basePath: `/api/${spaceId}/environments`,
          queryNames: ['ids', 'partialName', 'name'],
          defaultTake: 10,
        },
        (e) => renderEnvironment(e, spaceId),
      ),
    );
  }),
  route('GET', '/api/{spaceId}/environments/all', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    let items = filterByIdsAndName(sim.state().environments, req);
    const projectId = queryValue(req, 'projectId');
    if (projectId) {
      const project = sim.state().projects.find((p) => p.id === projectId);
      const lifecycle = sim.state().lifecycles.find((l) => l.id === project?.lifecycleId);
      const allowed = new Set(
        lifecycle?.phases.flatMap((p) => [
          ...p.automaticDeploymentTargets,
          ...p.optionalDeploymentTargets,
        ]),
      );
      if (allowed.size > 0) items = items.filter((e) => allowed.has(e.id));
    }
    const ids = listParam(req, 'ids');
    return ok(
      items.filter((e) => !ids || ids.includes(e.id)).map((e) => renderEnvironment(e, spaceId)),
    );
  }),
  route('GET', '/api/{spaceId}/environments/{id}', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const environment = findById(sim.state().environments, req.params.id, 'environment');
    return ok(renderEnvironment(environment, spaceId));
  }),
];
