// Lifecycles and their phases.
import { paged } from '../paging.js';
import { ok, route, type Route } from '../router.js';
import type { LifecycleRecord } from '../store.js';
import { byName, filterByIdsAndName, findById, spaceOf } from './common.js';

const keepForever = {
  Unit: 'Days',
  QuantityToKeep: 0,
  ShouldKeepForever: true,
  Strategy: 'Forever',
};

export function renderLifecycle(
  lifecycle: LifecycleRecord,
  spaceId: string,
): Record<string, unknown> {
  return {
    Id: lifecycle.id,
    Name: lifecycle.name,
    Slug: lifecycle.slug,
    Description: lifecycle.description,
    ReleaseRetentionPolicy: keepForever,
    TentacleRetentionPolicy: keepForever,
    Phases: lifecycle.phases.map((phase) => ({
      Id: phase.id,
      Name: phase.name,
      AutomaticDeploymentTargets: phase.automaticDeploymentTargets,
      OptionalDeploymentTargets: phase.optionalDeploymentTargets,
      MinimumEnvironmentsBeforePromotion: phase.minimumEnvironmentsBeforePromotion,
      IsOptionalPhase: phase.isOptionalPhase,
      IsPriorityPhase: false,
      ReleaseRetentionPolicy: null,
      TentacleRetentionPolicy: null,
    })),
    SpaceId: spaceId,
    Links: { Self: `/api/${spaceId}/lifecycles/${lifecycle.id}` },
  };
}

export const lifecycleRoutes: Route[] = [
  route('GET', '/api/{spaceId}/lifecycles', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const items = byName(filterByIdsAndName(sim.state().lifecycles, req));
    return ok(
      paged(
        items,
        req,
        {
          itemType: 'Lifecycle',
          basePath: `/api/${spaceId}/lifecycles`,
          queryNames: ['ids', 'partialName', 'name'],
        },
        (l) => renderLifecycle(l, spaceId),
      ),
    );
  }),
  route('GET', '/api/{spaceId}/lifecycles/all', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    return ok(
      byName(filterByIdsAndName(sim.state().lifecycles, req)).map((l) =>
        renderLifecycle(l, spaceId),
      ),
    );
  }),
  route('GET', '/api/{spaceId}/lifecycles/{id}', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const lifecycle = findById(sim.state().lifecycles, req.params.id, 'lifecycle');
    return ok(renderLifecycle(lifecycle, spaceId));
  }),
];
