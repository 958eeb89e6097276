// Server tasks: the state of a deployment or runbook run lives here, not on the deployment.
import type { OctopusContext } from './context.js';
import { isFinishedTaskState, taskStateFromWire, type TaskState } from './enums.js';
import { OctopusError } from './errors.js';
import { getManyByIds, type PageOptions, type PagedAsyncIterable } from './paging.js';
import type { JsonShape } from './selectJson.js';
import { normalizeActivity, type ActivityElement } from './taskProgress.js';

export interface ServerTask {
  Id: string;
  /** Task type, e.g. `Deploy`, `RunbookRun`. */
  Name: string;
  Description?: string;
  /** For deployments `{ DeploymentId }`. */
  Arguments?: Record<string, unknown>;
  State: TaskState;
  IsCompleted?: boolean;
  FinishedSuccessfully?: boolean;
  HasWarningsOrErrors?: boolean;
  ErrorMessage?: string;
  HasPendingInterruptions?: boolean;
  /** Missing on servers up to 2026.1.419: trust HasPendingInterruptions. */
  PendingInterruptionTypes?: string[];
  HasPendingPreconditions?: boolean;
  PendingPreconditionTypes?: string[];
  QueueTime?: string | null;
  QueueTimeExpiry?: string | null;
  StartTime?: string | null;
  CompletedTime?: string | null;
  LastUpdatedTime?: string | null;
  /** Prose ("32 seconds"): display only; compute from StartTime/CompletedTime. */
  Duration?: string;
  Completed?: string;
  ServerNode?: string | null;
  HasBeenPickedUpByProcessor?: boolean;
  CanRerun?: boolean;
  EstimatedRemainingQueueDurationSeconds?: number;
  ProjectId?: string | null;
  SpaceId?: string | null;
  Links?: Record<string, string>;
}

export interface TaskDetails {
  Task: ServerTask;
  ActivityLogs: ActivityElement[];
  Progress?: { ProgressPercentage?: number; EstimatedTimeRemaining?: string };
  PhysicalLogSize?: number;
}

type DateLike = Date | string;

export interface TaskListOptions extends PageOptions {
  ids?: readonly string[];
  /** Task types, exact (`Deploy`, `RunbookRun`). */
  name?: string | readonly string[];
  states?: readonly TaskState[];
  /** Not finished. */
  active?: boolean;
  /** Executing or Cancelling. */
  running?: boolean;
  project?: string;
  environment?: string;
  tenant?: string;
  runbook?: string;
  partialName?: string;
  description?: string;
  hasPendingInterruptions?: boolean;
  hasWarningsOrErrors?: boolean;
  fromQueueDate?: DateLike;
  toQueueDate?: DateLike;
  fromStartDate?: DateLike;
  toStartDate?: DateLike;
  fromCompletedDate?: DateLike;
  toCompletedDate?: DateLike;
  /**
   * Read only these fields of each task (the others are absent, whatever the type says): for long
   * lists, where decoding whole tasks costs more than the request.
   */
  fields?: JsonShape;
}

export function normalizeTask(task: ServerTask): ServerTask {
  return { ...task, State: taskStateFromWire(task.State) };
}

function iso(value: DateLike | undefined): string | undefined {
  return value instanceof Date ? value.toISOString() : value;
}

export class TasksApi {
  constructor(private readonly ctx: OctopusContext) {}

  async get(id: string): Promise<ServerTask> {
    return normalizeTask(
      await this.ctx.getObject<ServerTask>('/api/{spaceId}/tasks/{id}', { params: { id } }),
    );
  }

  /** Tasks newest first. */
  list(options: TaskListOptions = {}): PagedAsyncIterable<ServerTask> {
    const { pageSize, maxItems, name, states, fields, ...filters } = options;
    return this.ctx.list<ServerTask>(
      '/api/{spaceId}/tasks',
      {
        pageSize,
        maxItems,
        fields,
        query: {
          ...filters,
          name: typeof name === 'string' ? name : name?.join(','),
          states,
          fromQueueDate: iso(filters.fromQueueDate),
          toQueueDate: iso(filters.toQueueDate),
          fromStartDate: iso(filters.fromStartDate),
          toStartDate: iso(filters.toStartDate),
          fromCompletedDate: iso(filters.fromCompletedDate),
          toCompletedDate: iso(filters.toCompletedDate),
        },
      },
      normalizeTask,
    );
  }

  /** Many tasks by id in few calls (`?ids=` batches); unknown ids are missing from the result. */
  getMany(ids: readonly string[], options: { batchSize?: number } = {}): Promise<ServerTask[]> {
    return getManyByIds(
      ids,
      (batch) => this.list({ ids: batch, pageSize: batch.length }),
      options.batchSize,
    );
  }

  /**
   * A task in any space the key can see, by the system-level route `GET /api/tasks/{id}` (the
   * space-scoped list only holds the client's space); undefined when Octopus knows no such task.
   */
  async getInAnySpace(id: string): Promise<ServerTask | undefined> {
    try {
      return normalizeTask(
        await this.ctx.getObject<ServerTask>('/api/tasks/{id}', { params: { id } }),
      );
    } catch (error) {
      if (error instanceof OctopusError && error.status === 404) return undefined;
      throw error;
    }
  }

  /** Asks Octopus to cancel the task (Queued → Canceled, Executing → Cancelling → Canceled). Safe to repeat. */
  async cancel(id: string): Promise<ServerTask> {
    let data: unknown;
    try {
      data = await this.ctx.call('POST', '/api/tasks/{id}/cancel', {
        params: { id },
        retry: true,
      });
    } catch (error) {
      // Octopus may answer 400 for a task that already finished: then there is nothing to cancel.
      if (error instanceof OctopusError && error.status === 400) {
        const task = await this.get(id);
        if (isFinishedTaskState(task.State)) return task;
      }
      throw error;
    }
    return data && typeof data === 'object' ? normalizeTask(data as ServerTask) : this.get(id);
  }

  /** Task with its activity tree; `tail` limits log lines per element (default 0, i.e. none). */
  async details(
    id: string,
    options: { verbose?: boolean; tail?: number } = {},
  ): Promise<TaskDetails> {
    const details = await this.ctx.getObject<TaskDetails>('/api/{spaceId}/tasks/{id}/details', {
      params: { id },
      query: { verbose: options.verbose ?? false, tail: options.tail ?? 0 },
    });
    return {
      ...details,
      Task: normalizeTask(details.Task),
      ActivityLogs: (details.ActivityLogs ?? []).map(normalizeActivity),
    };
  }
}
