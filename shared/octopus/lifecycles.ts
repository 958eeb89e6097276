// Lifecycles: the phases a release is promoted through.
import type { OctopusContext } from './context.js';
import type { PagedAsyncIterable } from './paging.js';
import type { ListByNameOptions } from './projects.js';

export interface RetentionPolicy {
  Unit?: 'Days' | 'Items' | (string & {});
  QuantityToKeep?: number;
  ShouldKeepForever?: boolean;
  Strategy?: string;
}

export interface LifecyclePhase {
  Id: string;
  Name: string;
  AutomaticDeploymentTargets: string[];
  OptionalDeploymentTargets: string[];
  /** 0 means every environment of the phase. */
  MinimumEnvironmentsBeforePromotion?: number;
  IsOptionalPhase?: boolean;
  IsPriorityPhase?: boolean;
  ReleaseRetentionPolicy?: RetentionPolicy | null;
  TentacleRetentionPolicy?: RetentionPolicy | null;
}

export interface Lifecycle {
  Id: string;
  Name: string;
  Slug?: string;
  Description?: string | null;
  ReleaseRetentionPolicy?: RetentionPolicy | null;
  TentacleRetentionPolicy?: RetentionPolicy | null;
  Phases: LifecyclePhase[];
  SpaceId?: string;
}

export class LifecyclesApi {
  constructor(private readonly ctx: OctopusContext) {}

  all(): Promise<Lifecycle[]> {
    return this.ctx.getArray<Lifecycle>('/api/{spaceId}/lifecycles/all');
  }

  list(options: ListByNameOptions = {}): PagedAsyncIterable<Lifecycle> {
    const { ids, partialName, ...paging } = options;
    return this.ctx.list<Lifecycle>('/api/{spaceId}/lifecycles', {
      ...paging,
      query: { ids, partialName },
    });
  }

  get(id: string): Promise<Lifecycle> {
    return this.ctx.getObject<Lifecycle>('/api/{spaceId}/lifecycles/{id}', { params: { id } });
  }
}
