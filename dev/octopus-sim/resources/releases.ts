// Releases: per project (newest first by creation), by version, by id, and the deployment template.
import type { SimContext } from '../context.js';
import { promotableEnvironments } from '../lifecycleRules.js';
import { listParam, paged, queryValue } from '../paging.js';
import { notFound, ok, route, type Route } from '../router.js';
import { idNumber, type ReleaseRecord } from '../store.js';
import { isoTime } from '../time.js';
import { findById, spaceOf } from './common.js';
import { projectFromRoute } from './projects.js';
import { newestFirst, renderDeployment, tasksById } from './deployments.js';

export function renderRelease(release: ReleaseRecord, spaceId: string): Record<string, unknown> {
  const base = `/api/${spaceId}/releases/${release.id}`;
  return {
    Id: release.id,
    Version: release.version,
    ProjectId: release.projectId,
    ChannelId: release.channelId,
    Assembled: isoTime(release.assembled),
    ReleaseNotes: release.releaseNotes,
    SelectedPackages: [],
    BuildInformation: [],
    IgnoreChannelRules: false,
    CustomFields: {},
    ProjectDeploymentProcessSnapshotId: `deploymentprocess-${release.projectId}-s-${release.id}`,
    ProjectVariableSetSnapshotId: `variableset-${release.projectId}-s-${release.id}`,
    LibraryVariableSetSnapshotIds: [],
    SpaceId: spaceId,
    Links: {
      Self: base,
      Project: `/api/${spaceId}/projects/${release.projectId}`,
      Channel: `/api/${spaceId}/channels/${release.channelId}`,
      Deployments: `${base}/deployments{?skip,take}`,
      DeploymentTemplate: `${base}/deployments/template`,
      Web: `/app#/${spaceId}/releases/${release.id}`,
    },
  };
}

/** Newest first by creation (Assembled), never by version. */
function releasesNewestFirst(releases: ReleaseRecord[]): ReleaseRecord[] {
  return [...releases].sort((a, b) => b.assembled - a.assembled || idNumber(b.id) - idNumber(a.id));
}

function releaseById(sim: SimContext, id: string): ReleaseRecord {
  return findById(sim.state().releases, id, 'release');
}

export const releaseRoutes: Route[] = [
  route('GET', '/api/{spaceId}/projects/{projectId}/releases', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const project = projectFromRoute(sim, req.params.projectId ?? '');
    const search = queryValue(req, 'searchByVersion');
    const items = releasesNewestFirst(
      sim
        .state()
        .releases.filter(
          (r) => r.projectId === project.id && (!search || r.version.includes(search)),
        ),
    );
    return ok(
      paged(
        items,
        req,
        {
          itemType: 'Release',
          basePath: `/api/${spaceId}/projects/${project.id}/releases`,
          queryNames: ['searchByVersion'],
        },
        (r) => renderRelease(r, spaceId),
      ),
    );
  }),
  route('GET', '/api/{spaceId}/projects/{projectId}/releases/{version}', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const project = projectFromRoute(sim, req.params.projectId ?? '');
    const version = req.params.version ?? '';
    const release = sim
      .state()
      .releases.find((r) => r.projectId === project.id && r.version === version);
    if (!release) throw notFound('release', `${version} of ${project.name}`);
    return ok(renderRelease(release, spaceId));
  }),
  route('GET', '/api/{spaceId}/projects/{projectId}/channels/{channelId}/releases', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const project = projectFromRoute(sim, req.params.projectId ?? '');
    const items = releasesNewestFirst(
      sim
        .state()
        .releases.filter((r) => r.projectId === project.id && r.channelId === req.params.channelId),
    );
    return ok(
      paged(
        items,
        req,
        {
          itemType: 'Release',
          basePath: `/api/${spaceId}/projects/${project.id}/channels/${req.params.channelId ?? ''}/releases`,
          queryNames: ['searchByVersion'],
        },
        (r) => renderRelease(r, spaceId),
      ),
    );
  }),
  route('GET', '/api/{spaceId}/releases', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const ids = listParam(req, 'ids');
    const items = releasesNewestFirst(
      sim.state().releases.filter((r) => !ids || ids.includes(r.id)),
    );
    return ok(
      paged(
        items,
        req,
        { itemType: 'Release', basePath: `/api/${spaceId}/releases`, queryNames: ['ids'] },
        (r) => renderRelease(r, spaceId),
      ),
    );
  }),
  route('GET', '/api/{spaceId}/releases/{id}', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    return ok(renderRelease(releaseById(sim, req.params.id ?? ''), spaceId));
  }),
  route('GET', '/api/{spaceId}/releases/{id}/deployments', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const release = releaseById(sim, req.params.id ?? '');
    const items = newestFirst(sim.state().deployments.filter((d) => d.releaseId === release.id));
    const tasks = tasksById(sim);
    return ok(
      paged(
        items,
        req,
        {
          itemType: 'Deployment',
          basePath: `/api/${spaceId}/releases/${release.id}/deployments`,
          queryNames: [],
        },
        (d) => renderDeployment(d, sim, tasks),
      ),
    );
  }),
  route('GET', '/api/{spaceId}/releases/{id}/deployments/template', (req, sim) => {
    spaceOf(req, sim);
    const state = sim.state();
    const release = releaseById(sim, req.params.id ?? '');
    const project = state.projects.find((p) => p.id === release.projectId);
    const named = (ids: string[]): { Id: string; Name: string }[] =>
      state.environments.filter((e) => ids.includes(e.id)).map((e) => ({ Id: e.id, Name: e.name }));
    const tenanted = project?.tenantedDeploymentMode !== 'Untenanted';
    const tenants = tenanted
      ? state.tenants.filter((t) => project && project.id in t.projectEnvironments)
      : [];
    return ok({
      IsDeploymentProcessModified: false,
      DeploymentNotes: null,
      IsVariableSetModified: false,
      IsLibraryVariableSetModified: false,
      PromoteTo:
        project?.tenantedDeploymentMode === 'Tenanted'
          ? []
          : named(promotableEnvironments(state, release)),
      TenantPromotions: tenants.map((tenant) => {
        const connected = tenant.projectEnvironments[release.projectId] ?? [];
        return {
          Id: tenant.id,
          Name: tenant.name,
          PromoteTo: named(
            promotableEnvironments(state, release, tenant.id).filter((id) =>
              connected.includes(id),
            ),
          ),
        };
      }),
    });
  }),
];
