// The dashboards: current (and previous successful) deployment per project/environment/tenant in one call.
import type { OctopusContext } from './context.js';
import {
  taskStateFromWire,
  tenantedModeFromWire,
  type TaskState,
  type TenantedDeploymentMode,
} from './enums.js';

export interface DashboardItem {
  /** The deployment id. */
  Id: string;
  DeploymentId: string;
  ProjectId: string;
  EnvironmentId: string;
  TenantId: string | null;
  ReleaseId: string;
  ReleaseVersion: string;
  ChannelId?: string;
  TaskId: string;
  State: TaskState;
  Created?: string;
  QueueTime?: string | null;
  StartTime?: string | null;
  CompletedTime?: string | null;
  Duration?: string;
  ErrorMessage?: string;
  HasWarningsOrErrors?: boolean;
  HasPendingInterruptions?: boolean;
  PendingInterruptionTypes?: string[];
  HasPendingPreconditions?: boolean;
  PendingPreconditionTypes?: string[];
  IsCurrent: boolean;
  IsPrevious: boolean;
  IsCompleted?: boolean;
  Links?: Record<string, string>;
}

export interface DashboardProject {
  Id: string;
  Name: string;
  Slug?: string;
  ProjectGroupId?: string;
  EnvironmentIds: string[];
  TenantedDeploymentMode?: TenantedDeploymentMode;
  CanPerformUntenantedDeployment?: boolean;
  IsDisabled?: boolean;
}

export interface Dashboard {
  Projects: DashboardProject[];
  ProjectGroups?: Array<{ Id: string; Name: string; EnvironmentIds?: string[] }>;
  Environments: Array<{ Id: string; Name: string }>;
  Tenants?: Array<{
    Id: string;
    Name: string;
    TenantTags?: string[];
    ProjectEnvironments?: Record<string, string[]>;
    IsDisabled?: boolean;
  }>;
  /** Current items and, with includePrevious, previous ones flagged IsPrevious (PreviousItems merged in). */
  Items: DashboardItem[];
  /** Null, or the cap the server applied: then the dashboard is truncated. */
  ProjectLimit?: number | null;
  IsFiltered?: boolean;
}

export interface DashboardOptions {
  projectId?: string;
  releaseId?: string;
  selectedTenants?: readonly string[];
  selectedTags?: readonly string[];
  showAll?: boolean;
  highestLatestVersionPerProjectAndEnvironment?: boolean;
}

export interface DynamicDashboardOptions {
  /** Project ids; omit for every visible project. */
  projects?: readonly string[];
  /** Environment ids; omit for every visible environment. */
  environments?: readonly string[];
  /** Also return the last successful deployment before the current one, flagged IsPrevious. */
  includePrevious?: boolean;
}

function normalizeItem(item: DashboardItem, previous = false): DashboardItem {
  return {
    ...item,
    TenantId: item.TenantId ?? null,
    State: taskStateFromWire(item.State),
    IsCurrent: previous ? false : item.IsCurrent === true,
    IsPrevious: previous || item.IsPrevious === true,
  };
}

/** Accepts `PreviousItems` (declared by the .NET model, absent on current servers) by merging it into Items. */
export function normalizeDashboard(
  raw: Dashboard & { PreviousItems?: DashboardItem[] },
): Dashboard {
  const { PreviousItems, ...rest } = raw;
  const items = (raw.Items ?? []).map((i) => normalizeItem(i));
  const seen = new Set(items.filter((i) => i.IsPrevious).map((i) => i.Id));
  for (const p of PreviousItems ?? []) if (!seen.has(p.Id)) items.push(normalizeItem(p, true));
  return {
    ...rest,
    Projects: (raw.Projects ?? []).map((p) =>
      p.TenantedDeploymentMode === undefined
        ? p
        : { ...p, TenantedDeploymentMode: tenantedModeFromWire(p.TenantedDeploymentMode) },
    ),
    Environments: raw.Environments ?? [],
    Items: items,
  };
}

export interface DashboardCell {
  /** Latest deployment by Created, in any state (may be Queued, Executing or Failed). */
  current: DashboardItem | undefined;
  /** The IsPrevious item (needs includePrevious). */
  previous: DashboardItem | undefined;
  /** Current if it succeeded, else the previous successful one. */
  lastSuccessful: DashboardItem | undefined;
}

/** The dashboard's view of one project/environment/tenant (tenantId null or omitted = untenanted). */
export function dashboardCell(
  dashboard: Pick<Dashboard, 'Items'>,
  cell: { projectId: string; environmentId: string; tenantId?: string | null },
): DashboardCell {
  const tenantId = cell.tenantId ?? null;
  const mine = dashboard.Items.filter(
    (i) =>
      i.ProjectId === cell.projectId &&
      i.EnvironmentId === cell.environmentId &&
      (i.TenantId ?? null) === tenantId,
  );
  const current = mine.find((i) => i.IsCurrent);
  const previous = mine.find((i) => i.IsPrevious && i.Id !== current?.Id);
  const lastSuccessful =
    current?.State === 'Success' ? current : previous?.State === 'Success' ? previous : undefined;
  return { current, previous, lastSuccessful };
}

export class DashboardApi {
  constructor(private readonly ctx: OctopusContext) {}

  /** The space dashboard: current deployments only. */
  async get(options: DashboardOptions = {}): Promise<Dashboard> {
    const raw = await this.ctx.getObject<Dashboard>('/api/{spaceId}/dashboard', {
      query: { ...options },
    });
    return normalizeDashboard(raw);
  }

  /**
   * The dynamic dashboard, filtered by project and environment ids. A project list too long for one
   * URL (over DASHBOARD_IDS_CHARS, about 500 project ids) is read in parts, one call each, merged.
   */
  async dynamic(options: DynamicDashboardOptions = {}): Promise<Dashboard> {
    const parts = splitIds(options.projects, DASHBOARD_IDS_CHARS);
    const read = async (projects: readonly string[] | undefined): Promise<Dashboard> =>
      normalizeDashboard(
        await this.ctx.getObject<Dashboard>('/api/{spaceId}/dashboard/dynamic', {
          query: {
            projects,
            environments: options.environments,
            includePrevious: options.includePrevious,
          },
        }),
      );
    if (parts.length <= 1) return read(options.projects);
    return mergeDashboards(await Promise.all(parts.map(read)));
  }
}

/**
 * Characters of one `projects=` list: with the rest of the URL well under 8 KB (servers and proxies
 * commonly refuse request lines from 8 KB on; 1,000 project ids are about 13 KB).
 */
export const DASHBOARD_IDS_CHARS = 6000;

/** Ids in runs whose comma-joined, URL-encoded length stays within `maxChars`. */
export function splitIds(ids: readonly string[] | undefined, maxChars: number): string[][] {
  if (!ids || ids.length === 0) return [];
  const parts: string[][] = [[]];
  let length = 0;
  for (const id of ids) {
    const cost = encodeURIComponent(id).length + 1;
    const current = parts[parts.length - 1] ?? [];
    if (current.length > 0 && length + cost > maxChars) {
      parts.push([id]);
      length = cost;
    } else {
      current.push(id);
      length += cost;
    }
  }
  return parts;
}

/** One dashboard from parts read for disjoint project lists: lists joined, named lists by id once. */
export function mergeDashboards(parts: readonly Dashboard[]): Dashboard {
  const [first, ...rest] = parts;
  if (!first) throw new Error('mergeDashboards needs at least one dashboard');
  const byId = <T extends { Id: string }>(lists: (readonly T[] | undefined)[]): T[] => {
    const seen = new Map<string, T>();
    for (const list of lists)
      for (const item of list ?? []) if (!seen.has(item.Id)) seen.set(item.Id, item);
    return [...seen.values()];
  };
  const limits = parts.map((p) => p.ProjectLimit).filter((l): l is number => typeof l === 'number');
  return {
    ...first,
    Projects: byId(parts.map((p) => p.Projects)),
    ProjectGroups: byId(parts.map((p) => p.ProjectGroups)),
    Environments: byId(parts.map((p) => p.Environments)),
    Tenants: byId(parts.map((p) => p.Tenants)),
    Items: [first, ...rest].flatMap((p) => p.Items),
    ...(limits.length > 0 ? { ProjectLimit: Math.min(...limits) } : {}),
  };
}
