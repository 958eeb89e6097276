// A project's progression: recent releases per channel and where each is deployed.
import type { OctopusContext } from './context.js';
import type { DashboardItem } from './dashboard.js';
import type { NamedReference, Release } from './releases.js';
import type { Channel } from './channels.js';

export interface ProgressionRelease {
  Release: Release;
  Channel?: Channel;
  /** Environment id → dashboard items deployed there. */
  Deployments: Record<string, DashboardItem[]>;
  NextDeployments: string[];
}

export interface Progression {
  Environments: NamedReference[];
  LifecycleEnvironments?: Record<string, NamedReference[]>;
  ChannelEnvironments?: Record<string, NamedReference[]>;
  Releases: ProgressionRelease[];
  [field: string]: unknown;
}

export class ProgressionApi {
  constructor(private readonly ctx: OctopusContext) {}

  /** `releaseHistoryCount` is 1-100 (server default 3). */
  get(projectId: string, options: { releaseHistoryCount?: number } = {}): Promise<Progression> {
    return this.ctx.getObject<Progression>('/api/{spaceId}/progression/{projectId}', {
      params: { projectId },
      query: { releaseHistoryCount: options.releaseHistoryCount },
    });
  }
}
