// Project progression: the newest releases with their deployments per environment and where each may go next.
import { promotableEnvironments } from '../lifecycleRules.js';
import { intParam } from '../paging.js';
import { ok, route, SimHttpError, type Route } from '../router.js';
import {
  idNumber,
  lifecycleOfRelease,
  phaseEnvironments,
  type DeploymentRecord,
} from '../store.js';
import { spaceOf } from './common.js';
import { renderDashboardItem } from './dashboard.js';
import { renderChannel, projectFromRoute } from './projects.js';
import { renderRelease } from './releases.js';

export const progressionRoutes: Route[] = [
  route('GET', '/api/{spaceId}/progression/{projectId}', (req, sim) => {
    const spaceId = spaceOf(req, sim);
    const state = sim.state();
    const project = projectFromRoute(sim, req.params.projectId ?? '');
    const count = intParam(req, 'releaseHistoryCount') ?? 3;
    if (count < 1 || count > 100)
      throw new SimHttpError(400, 'There was a problem with your request.', [
        'releaseHistoryCount must be from 1 to 100.',
      ]);
    const named = (ids: string[]) =>
      state.environments.filter((e) => ids.includes(e.id)).map((e) => ({ Id: e.id, Name: e.name }));
    const lifecycle = state.lifecycles.find((l) => l.id === project.lifecycleId);
    const phases = lifecycle
      ? phaseEnvironments(state, lifecycle)
      : [state.environments.map((e) => e.id)];
    const lifecycleEnvironments: Record<string, { Id: string; Name: string }[]> = {};
    phases.forEach((ids, i) => {
      lifecycleEnvironments[lifecycle?.phases[i]?.id ?? `phase-${i}`] = named(ids);
    });
    const channels = state.channels.filter((c) => c.projectId === project.id);
    const channelEnvironments: Record<string, { Id: string; Name: string }[]> = {};
    for (const channel of channels) {
      const release = {
        id: '',
        version: '',
        projectId: project.id,
        channelId: channel.id,
        assembled: 0,
        releaseNotes: '',
      };
      const channelLifecycle = lifecycleOfRelease(state, release);
      channelEnvironments[channel.id] = named(
        channelLifecycle ? phaseEnvironments(state, channelLifecycle).flat() : [],
      );
    }
    const releases = state.releases
      .filter((r) => r.projectId === project.id)
      .sort((a, b) => b.assembled - a.assembled || idNumber(b.id) - idNumber(a.id))
      .slice(0, count);
    return ok({
      Environments: named(phases.flat()),
      LifecycleEnvironments: lifecycleEnvironments,
      ChannelEnvironments: channelEnvironments,
      Releases: releases.map((release) => {
        const deployments: Record<string, unknown[]> = {};
        const latest = new Map<string, DeploymentRecord>();
        for (const d of state.deployments.filter((x) => x.releaseId === release.id)) {
          const key = `${d.environmentId}|${d.tenantId ?? ''}`;
          const seen = latest.get(key);
          if (!seen || d.created > seen.created) latest.set(key, d);
        }
        for (const d of latest.values())
          (deployments[d.environmentId] ??= []).push(renderDashboardItem(d, sim, true, false));
        const channel = channels.find((c) => c.id === release.channelId);
        return {
          Release: renderRelease(release, spaceId),
          Channel: channel ? renderChannel(channel, spaceId) : null,
          Deployments: deployments,
          NextDeployments: promotableEnvironments(state, release).filter(
            (id) => !(id in deployments),
          ),
          HasUnresolvedDefect: false,
          ReleaseRetentionPeriod: null,
          TentacleRetentionPeriod: null,
        };
      }),
    });
  }),
];
