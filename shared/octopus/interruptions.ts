// Interruptions: guided failure and manual intervention prompts, and answering them.
import type { OctopusContext } from './context.js';
import { expectObject } from './context.js';
import type { PageOptions, PagedAsyncIterable } from './paging.js';

export interface Interruption {
  Id: string;
  Title: string;
  /** `ManualIntervention`, `GuidedFailure`, ... */
  Type: string;
  IsPending: boolean;
  TaskId: string;
  RelatedDocumentIds: string[];
  CorrelationId?: string;
  Created?: string;
  Form?: { Elements?: unknown[]; Values?: Record<string, unknown> };
  ResponsibleTeamIds?: string[];
  ResponsibleUserId?: string | null;
  HasResponsibility?: boolean;
  CanTakeResponsibility?: boolean;
  IsLinkedToOtherInterruption?: boolean;
  SpaceId?: string;
}

export interface InterruptionListOptions extends PageOptions {
  /** Any related document id (task, project, environment, ...). */
  regarding?: string;
  pendingOnly?: boolean;
  ids?: readonly string[];
}

export type InterruptionAnswer =
  | { Guidance: 'Fail' | 'Retry' | 'Ignore' | 'Exclude'; Notes?: string; Instructions?: string }
  | { Result: 'Proceed' | 'Abort'; Notes?: string; Instructions?: string };

export class InterruptionsApi {
  constructor(private readonly ctx: OctopusContext) {}

  list(options: InterruptionListOptions = {}): PagedAsyncIterable<Interruption> {
    const { regarding, pendingOnly, ids, ...paging } = options;
    return this.ctx.list<Interruption>('/api/{spaceId}/interruptions', {
      ...paging,
      query: { regarding, pendingOnly, ids },
    });
  }

  get(id: string): Promise<Interruption> {
    return this.ctx.getObject<Interruption>('/api/{spaceId}/interruptions/{id}', {
      params: { id },
    });
  }

  /** Takes responsibility (needed before submitting). Repeating it is harmless. */
  async takeResponsibility(id: string): Promise<void> {
    await this.ctx.call('PUT', '/api/{spaceId}/interruptions/{id}/responsible', {
      params: { id },
      retry: true,
    });
  }

  /** Answers the interruption; not retried (a second answer could hit a later interruption state). */
  async submit(id: string, answer: InterruptionAnswer): Promise<Interruption> {
    const spaceId = await this.ctx.spaceId();
    const data = await this.ctx.call('POST', '/api/{spaceId}/interruptions/{id}/submit', {
      params: { id },
      body: { Id: id, SpaceId: spaceId, ...answer },
      retry: false,
    });
    return expectObject<Interruption>(data, 'POST', '/api/{spaceId}/interruptions/{id}/submit');
  }
}
