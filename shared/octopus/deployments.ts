// Deployments: list with id filters, get, and create (never twice).
import type { OctopusContext } from './context.js';
import { expectObject } from './context.js';
import { createOnce } from './createOnce.js';
import type { TaskState } from './enums.js';
import { collect, getManyByIds, type PageOptions, type PagedAsyncIterable } from './paging.js';

export interface Deployment {
  Id: string;
  Name?: string;
  ProjectId: string;
  ReleaseId: string;
  ChannelId?: string;
  EnvironmentId: string;
  /** Null when untenanted. */
  TenantId?: string | null;
  TaskId: string;
  Created?: string;
  QueueTime?: string | null;
  QueueTimeExpiry?: string | null;
  Comments?: string | null;
  DeployedBy?: string;
  DeployedById?: string | null;
  DeployedToMachineIds?: string[];
  SkipActions?: string[];
  SpecificMachineIds?: string[];
  ExcludedMachineIds?: string[];
  ForcePackageDownload?: boolean;
  ForcePackageRedeployment?: boolean;
  UseGuidedFailure?: boolean;
  FormValues?: Record<string, unknown>;
  FailureEncountered?: boolean;
  Priority?: string;
  DeploymentProcessId?: string;
  ManifestVariableSetId?: string;
  ChangesMarkdown?: string | null;
  SpaceId?: string;
  Links?: Record<string, string>;
}

/** Body of the classic `POST /deployments` (the only create form that carries `Comments`). */
export interface CreateDeploymentRequest {
  ReleaseId: string;
  EnvironmentId: string;
  /** Required here (Octopus infers it) because the duplicate check lists this project's deployments. */
  ProjectId: string;
  ChannelId?: string;
  /** Required for tenanted projects; one deployment per tenant. */
  TenantId?: string | null;
  /** Stamp a unique run/action marker here: it is how a failed create is checked before any retry. */
  Comments?: string;
  /** A future time schedules the deployment (its task stays Queued until then). */
  QueueTime?: string | Date | null;
  QueueTimeExpiry?: string | Date | null;
  SkipActions?: string[];
  SpecificMachineIds?: string[];
  ExcludedMachineIds?: string[];
  ForcePackageDownload?: boolean;
  ForcePackageRedeployment?: boolean;
  UseGuidedFailure?: boolean;
  Priority?: 'LifecycleDefault' | 'On' | 'Off';
  /** `None` | `Log` | `Debug` (a string in Octopus, not a flag). */
  DebugMode?: 'None' | 'Log' | 'Debug';
  FailTargetDiscovery?: boolean;
  FormValues?: Record<string, unknown>;
}

export interface DeploymentListOptions extends PageOptions {
  ids?: readonly string[];
  projects?: readonly string[];
  environments?: readonly string[];
  tenants?: readonly string[];
  channels?: readonly string[];
  /** One task state. */
  taskState?: TaskState;
  partialName?: string;
}

export interface FindByMarkerOptions {
  projectId: string;
  environmentId: string;
  tenantId?: string | null;
  releaseId?: string;
  /** Text the deployment's Comments must contain. */
  marker: string;
  /** How many of the newest matching deployments to look through. Default 30. */
  depth?: number;
}

function toIso(value: string | Date | null | undefined): string | null | undefined {
  return value instanceof Date ? value.toISOString() : value;
}

export class DeploymentsApi {
  constructor(private readonly ctx: OctopusContext) {}

  /** Deployments newest first. Filters take ids; values in one filter OR, filters AND. */
  list(options: DeploymentListOptions = {}): PagedAsyncIterable<Deployment> {
    const { ids, projects, environments, tenants, channels, taskState, partialName, ...paging } =
      options;
    return this.ctx.list<Deployment>('/api/{spaceId}/deployments', {
      ...paging,
      query: { ids, projects, environments, tenants, channels, taskState, partialName },
    });
  }

  get(id: string): Promise<Deployment> {
    return this.ctx.getObject<Deployment>('/api/{spaceId}/deployments/{id}', { params: { id } });
  }

  getMany(ids: readonly string[]): Promise<Deployment[]> {
    return getManyByIds(ids, (batch) => this.list({ ids: batch, pageSize: batch.length }));
  }

  /**
   * Creates a deployment. A failure that may have happened after Octopus acted (timeout, network,
   * 408/429/5xx) is retried only when `Comments` is set and `findByMarker` shows the attempt did
   * not create it; if it did, that deployment is returned. Without `Comments` such a failure is
   * thrown as `CreateUnconfirmed`, never retried blindly.
   */
  create(request: CreateDeploymentRequest): Promise<Deployment> {
    const body = {
      ...request,
      TenantId: request.TenantId ?? null,
      QueueTime: toIso(request.QueueTime) ?? null,
      QueueTimeExpiry: toIso(request.QueueTimeExpiry) ?? null,
    };
    const marker = request.Comments;
    return createOnce(this.ctx, {
      what: `deployment of ${request.ReleaseId} to ${request.EnvironmentId}${request.TenantId ? ` for ${request.TenantId}` : ''}`,
      attempt: async () => {
        const data = await this.ctx.call('POST', '/api/{spaceId}/deployments', {
          body,
          retry: false,
        });
        return expectObject<Deployment>(data, 'POST', '/api/{spaceId}/deployments');
      },
      find:
        marker === undefined || marker.trim() === ''
          ? undefined
          : () =>
              this.findByMarker({
                projectId: request.ProjectId,
                environmentId: request.EnvironmentId,
                tenantId: request.TenantId ?? null,
                releaseId: request.ReleaseId,
                marker,
              }),
    });
  }

  /**
   * The check behind `create`: the newest deployment of this project/environment(/tenant) whose
   * Comments contain `marker` (and of `releaseId`, if given). One list call.
   */
  async findByMarker(options: FindByMarkerOptions): Promise<Deployment | undefined> {
    const recent = await collect(
      this.list({
        projects: [options.projectId],
        environments: [options.environmentId],
        tenants: options.tenantId ? [options.tenantId] : undefined,
        maxItems: options.depth ?? 30,
      }),
    );
    return recent.find(
      (d) =>
        typeof d.Comments === 'string' &&
        d.Comments.includes(options.marker) &&
        d.EnvironmentId === options.environmentId &&
        (options.tenantId ? d.TenantId === options.tenantId : !d.TenantId) &&
        (options.releaseId === undefined || d.ReleaseId === options.releaseId),
    );
  }
}
