// Tenants and where each may be deployed (ProjectEnvironments).
import type { SimContext } from '../context.js';
import { boolParam, listParam, paged, queryValue } from '../paging.js';
import { ok, route, type Route, type SimRequest } from '../router.js';
import type { TenantRecord } from '../store.js';
import { byName, filterByIdsAndName, findById, spaceOf } from './common.js';

export function renderTenant(tenant: TenantRecord, spaceId: string): Record<string, unknown> {
  return {
    Id: tenant.id,
    Name: tenant.name,
    Slug: tenant.slug,
    Description: tenant.description,
    IsDisabled: false,
    TenantTags: tenant.tags,
    ProjectEnvironments: tenant.projectEnvironments,
    ClonedFromTenantId: null,
    SpaceId: spaceId,
    Links: {
      Self: `/api/${spaceId}/tenants/${tenant.id}`,
      Web: `/app#/${spaceId}/tenants/${tenant.id}/overview`,
    },
  };
}

function filterTenants(request: SimRequest, sim: SimContext): TenantRecord[] {
  const projectId = queryValue(request, 'projectId');
  const tags = listParam(request, 'tags');
  const disabled = boolParam(request, 'isDisabled');
  return byName(filterByIdsAndName(sim.state().tenants, request)).filter(
    (t) =>
      (!projectId || projectId in t.projectEnvironments) &&
      (!tags || tags.some((tag) => t.tags.includes(tag))) &&
      disabled !== true,
  );
}

export const tenantRoutes: Route[] = [
  route('GET', '/api/{spaceId}/tenants', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    return ok(
      paged(
        filterTenants(req, sim),
        req,
        {
          itemType: 'Tenant',
          basePath: `/api/${spaceId}/tenants`,
          queryNames: ['ids', 'partialName', 'projectId', 'tags'],
        },
        (t) => renderTenant(t, spaceId),
      ),
    );
  }),
  route('GET', '/api/{spaceId}/tenants/all', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    return ok(filterTenants(req, sim).map((t) => renderTenant(t, spaceId)));
  }),
  route('GET', '/api/{spaceId}/tenants/{id}', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const tenant = findById(sim.state().tenants, req.params.id, 'tenant');
    return ok(renderTenant(tenant, spaceId));
  }),
];
