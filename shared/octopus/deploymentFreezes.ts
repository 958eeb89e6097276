// Octopus's own deployment freezes (2024.2+): instance-level `GET /api/deploymentfreezes`, read-only here.
import type { OctopusContext } from './context.js';
import { expectObject } from './context.js';
import { OctopusError } from './errors.js';

/** A freeze's repeat rule (2025.1+). `Unit` is "every n days/weeks/months/years". */
export interface DeploymentFreezeRecurringSchedule {
  Type: 'Daily' | 'Weekly' | 'Monthly' | 'Annually' | string;
  Unit: number;
  EndType?: 'Never' | 'OnDate' | 'AfterOccurrences' | string;
  EndOnDate?: string | null;
  EndAfterOccurrences?: number | null;
  StartDate?: string | null;
  EndDate?: string | null;
  UserUtcOffsetInMinutes?: number | null;
  /** Weekly: the days it repeats on (`Monday`, …). */
  DaysOfWeek?: string[] | null;
  MonthlyScheduleType?: string | null;
  DateOfMonth?: string | number | null;
  DayNumberOfMonth?: string | number | null;
  DayOfWeek?: string | null;
}

export interface DeploymentFreezeScopeEntry {
  TenantId: string;
  ProjectId: string;
  EnvironmentId: string;
}

/** `DeploymentFreezeResource`: a window (Start–End, maybe repeating) over project × environment (× tenant) scopes. */
export interface DeploymentFreeze {
  Id: string;
  Name: string;
  Description?: string | null;
  Start: string;
  End: string;
  /** Project id → the environment ids frozen for it. */
  ProjectEnvironmentScope?: Record<string, string[]> | null;
  TenantProjectEnvironmentScope?: DeploymentFreezeScopeEntry[] | null;
  RecurringSchedule?: DeploymentFreezeRecurringSchedule | null;
  OwnerId?: string | null;
}

export interface DeploymentFreezeListOptions {
  projectIds?: readonly string[];
  environmentIds?: readonly string[];
  tenantIds?: readonly string[];
  /** false: only freezes not yet ended (Octopus's `includeComplete=false`). */
  includeComplete?: boolean;
}

/** The list answer is not a standard collection: `{ Count, DeploymentFreezes: [...] }`. */
interface FreezePage {
  Count?: number;
  DeploymentFreezes?: DeploymentFreeze[];
}

const pageSize = 100;
/** A runaway answer (a server that ignores skip) never loops forever. */
const maxPages = 50;

export class DeploymentFreezesApi {
  constructor(private readonly ctx: OctopusContext) {}

  /** Every freeze matching the filters (all pages). A server without the API answers 404 (OctopusError). */
  async list(options: DeploymentFreezeListOptions = {}): Promise<DeploymentFreeze[]> {
    const out: DeploymentFreeze[] = [];
    for (let page = 0; page < maxPages; page++) {
      const data = await this.ctx.call('GET', '/api/deploymentfreezes', {
        query: {
          skip: page * pageSize,
          take: pageSize,
          projectIds: options.projectIds,
          environmentIds: options.environmentIds,
          tenantIds: options.tenantIds,
          includeComplete: options.includeComplete,
        },
      });
      const body = expectObject<FreezePage>(data, 'GET', '/api/deploymentfreezes');
      if (!Array.isArray(body.DeploymentFreezes)) {
        throw new OctopusError({
          code: 'InvalidResponse',
          method: 'GET',
          path: '/api/deploymentfreezes',
          message:
            'Octopus answered GET /api/deploymentfreezes without a DeploymentFreezes list; the server may predate deployment freezes.',
        });
      }
      out.push(...body.DeploymentFreezes);
      const total = typeof body.Count === 'number' ? body.Count : out.length;
      if (body.DeploymentFreezes.length < pageSize || out.length >= total) break;
    }
    return out;
  }
}
