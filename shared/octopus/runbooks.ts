// Runbooks and their runs (a run is created like a deployment and tracked by its task).
import type { OctopusContext } from './context.js';
import { expectObject } from './context.js';
import { createOnce } from './createOnce.js';
import { OctopusError } from './errors.js';
import type { TaskState } from './enums.js';
import { collect, type PageOptions, type PagedAsyncIterable } from './paging.js';

export interface Runbook {
  Id: string;
  Name: string;
  Slug?: string;
  ProjectId: string;
  Description?: string | null;
  /** The snapshot a run uses by default; null until one is published. */
  PublishedRunbookSnapshotId?: string | null;
  RunbookProcessId?: string;
  EnvironmentScope?: string;
  Environments?: string[];
  SpaceId?: string;
}

export interface RunbookRun {
  Id: string;
  Name?: string;
  RunbookId: string;
  RunbookSnapshotId?: string;
  RunbookName?: string;
  ProjectId?: string;
  EnvironmentId: string;
  TenantId?: string | null;
  TaskId: string;
  FrozenRunbookProcessId?: string;
  Created?: string;
  QueueTime?: string | null;
  Comments?: string | null;
  SpaceId?: string;
  Links?: Record<string, string>;
}

export interface CreateRunbookRunRequest {
  RunbookId: string;
  /** Defaults to the runbook's published snapshot. */
  RunbookSnapshotId?: string;
  EnvironmentId: string;
  TenantId?: string | null;
  /** A unique marker: how a failed create is checked before any retry. */
  Comments?: string;
  QueueTime?: string | null;
  QueueTimeExpiry?: string | null;
  SkipActions?: string[];
  SpecificMachineIds?: string[];
  ExcludedMachineIds?: string[];
  UseGuidedFailure?: boolean;
  FormValues?: Record<string, unknown>;
}

export interface RunbookRunListOptions extends PageOptions {
  ids?: readonly string[];
  projects?: readonly string[];
  environments?: readonly string[];
  tenants?: readonly string[];
  runbooks?: readonly string[];
  taskState?: TaskState;
  partialName?: string;
}

export class RunbooksApi {
  constructor(private readonly ctx: OctopusContext) {}

  listForProject(
    projectId: string,
    options: PageOptions & { partialName?: string } = {},
  ): PagedAsyncIterable<Runbook> {
    const { partialName, ...paging } = options;
    return this.ctx.list<Runbook>('/api/{spaceId}/projects/{projectId}/runbooks', {
      ...paging,
      params: { projectId },
      query: { partialName },
    });
  }

  get(id: string): Promise<Runbook> {
    return this.ctx.getObject<Runbook>('/api/{spaceId}/runbooks/{id}', { params: { id } });
  }

  /** Runs newest first. */
  listRuns(options: RunbookRunListOptions = {}): PagedAsyncIterable<RunbookRun> {
    const { ids, projects, environments, tenants, runbooks, taskState, partialName, ...paging } =
      options;
    return this.ctx.list<RunbookRun>('/api/{spaceId}/runbookRuns', {
      ...paging,
      query: { ids, projects, environments, tenants, runbooks, taskState, partialName },
    });
  }

  getRun(id: string): Promise<RunbookRun> {
    return this.ctx.getObject<RunbookRun>('/api/{spaceId}/runbookRuns/{id}', { params: { id } });
  }

  /** Starts a run; like deployments, a failed create is retried only after checking by `Comments`. */
  async run(request: CreateRunbookRunRequest): Promise<RunbookRun> {
    let snapshotId = request.RunbookSnapshotId;
    if (snapshotId === undefined) {
      const runbook = await this.get(request.RunbookId);
      snapshotId = runbook.PublishedRunbookSnapshotId ?? undefined;
      if (snapshotId === undefined) {
        throw new OctopusError({
          code: 'InvalidRequest',
          method: 'POST',
          path: '/api/{spaceId}/runbookRuns',
          message: `Runbook '${runbook.Name}' (${runbook.Id}) has no published snapshot, so it cannot be run. Publish it in Octopus or pass RunbookSnapshotId.`,
        });
      }
    }
    const body = {
      ...request,
      RunbookSnapshotId: snapshotId,
      TenantId: request.TenantId ?? null,
      SpaceId: await this.ctx.spaceId(),
    };
    const marker = request.Comments;
    return createOnce(this.ctx, {
      what: `run of ${request.RunbookId} in ${request.EnvironmentId}`,
      attempt: async () => {
        const data = await this.ctx.call('POST', '/api/{spaceId}/runbookRuns', {
          body,
          retry: false,
        });
        return expectObject<RunbookRun>(data, 'POST', '/api/{spaceId}/runbookRuns');
      },
      find:
        marker === undefined || marker.trim() === ''
          ? undefined
          : async () => {
              const recent = await collect(
                this.listRuns({
                  runbooks: [request.RunbookId],
                  environments: [request.EnvironmentId],
                  tenants: request.TenantId ? [request.TenantId] : undefined,
                  maxItems: 30,
                }),
              );
              return recent.find(
                (r) => typeof r.Comments === 'string' && r.Comments.includes(marker),
              );
            },
    });
  }
}
