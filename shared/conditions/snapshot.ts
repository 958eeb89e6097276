// One read of "what is deployed where" for a set of projects and environments: the dynamic dashboard, by name.
import type { OctopusClient } from '../octopus/client.js';
import {
  dashboardCell,
  type Dashboard,
  type DashboardCell,
  type DashboardItem,
} from '../octopus/dashboard.js';

export interface SnapshotNeeds {
  projects: Set<string>;
  environments: Set<string>;
  /** Read every environment (a condition that names none). */
  allEnvironments?: boolean;
}

export const emptyNeeds = (): SnapshotNeeds => ({ projects: new Set(), environments: new Set() });

export function mergeNeeds(into: SnapshotNeeds, more: SnapshotNeeds): SnapshotNeeds {
  more.projects.forEach((p) => into.projects.add(p));
  more.environments.forEach((e) => into.environments.add(e));
  into.allEnvironments = into.allEnvironments === true || more.allEnvironments === true;
  return into;
}

export interface SnapshotProject {
  id: string;
  name: string;
  tenanted: 'Untenanted' | 'TenantedOrUntenanted' | 'Tenanted';
}

/** A cell as people name it, with the dashboard's view of it. */
export interface NamedCell extends DashboardCell {
  project: string;
  environment: string;
  /** Tenant name, or null when untenanted. */
  tenant: string | null;
  tenantId: string | null;
}

/**
 * The deployments of some projects in some environments, read once. Lookups take the names people
 * use in config (or ids); names that Octopus does not know are reported by the caller.
 */
export class DeploymentSnapshot {
  constructor(
    readonly dashboard: Dashboard,
    private readonly projectIds: ReadonlyMap<string, string>,
    private readonly environmentIds: ReadonlyMap<string, string>,
    private readonly tenantIds: ReadonlyMap<string, string>,
  ) {}

  project(name: string): SnapshotProject | undefined {
    const id = this.projectIds.get(name);
    const p = this.dashboard.Projects.find((x) => x.Id === id);
    if (!p || id === undefined) return undefined;
    const mode = p.TenantedDeploymentMode;
    return {
      id,
      name: p.Name,
      tenanted:
        mode === 'Tenanted'
          ? 'Tenanted'
          : mode === 'TenantedOrUntenanted'
            ? 'TenantedOrUntenanted'
            : 'Untenanted',
    };
  }

  environmentId(name: string): string | undefined {
    return this.environmentIds.get(name);
  }

  environmentName(id: string): string {
    return this.dashboard.Environments.find((e) => e.Id === id)?.Name ?? id;
  }

  tenantId(name: string): string | undefined {
    return (
      this.tenantIds.get(name) ??
      this.dashboard.Tenants?.find((t) => t.Name === name || t.Id === name)?.Id
    );
  }

  tenantName(id: string): string {
    return this.dashboard.Tenants?.find((t) => t.Id === id)?.Name ?? id;
  }

  /** One cell; tenant null = untenanted. Undefined when the project or environment is unknown. */
  cell(project: string, environment: string, tenant: string | null): NamedCell | undefined {
    const projectId = this.projectIds.get(project);
    const environmentId = this.environmentIds.get(environment);
    if (projectId === undefined || environmentId === undefined) return undefined;
    const tenantId = tenant === null ? null : (this.tenantId(tenant) ?? `unknown:${tenant}`);
    return {
      project,
      environment,
      tenant,
      tenantId,
      ...dashboardCell(this.dashboard, { projectId, environmentId, tenantId }),
    };
  }

  /**
   * The cells of a project in an environment: the one untenanted cell, or (for tenanted projects)
   * one per tenant that is connected there or has been deployed there. `tenants` narrows the list.
   */
  cells(project: string, environment: string, tenants?: readonly string[] | null): NamedCell[] {
    const p = this.project(project);
    const environmentId = this.environmentIds.get(environment);
    if (!p || environmentId === undefined) return [];
    if (tenants && tenants.length > 0 && p.tenanted !== 'Untenanted') {
      return tenants.flatMap((t) => this.cell(project, environment, t) ?? []);
    }
    if (p.tenanted !== 'Tenanted') {
      const untenanted = this.cell(project, environment, null);
      if (p.tenanted === 'Untenanted' || untenanted?.current) return untenanted ? [untenanted] : [];
    }
    const ids = new Set<string>();
    for (const t of this.dashboard.Tenants ?? []) {
      if (t.IsDisabled) continue;
      if (t.ProjectEnvironments?.[p.id]?.includes(environmentId)) ids.add(t.Id);
    }
    for (const i of this.dashboard.Items) {
      if (i.ProjectId === p.id && i.EnvironmentId === environmentId && i.TenantId)
        ids.add(i.TenantId);
    }
    return [...ids].flatMap((id) => this.cell(project, environment, this.tenantName(id)) ?? []);
  }

  /** Items that are queued or running, for a project (any tenant) in an environment (or any). */
  active(project: string, environment?: string): DashboardItem[] {
    const projectId = this.projectIds.get(project);
    const environmentId =
      environment === undefined ? undefined : this.environmentIds.get(environment);
    return this.dashboard.Items.filter(
      (i) =>
        i.IsCurrent &&
        i.ProjectId === projectId &&
        (environment === undefined || i.EnvironmentId === environmentId) &&
        isActiveState(i.State),
    );
  }
}

export const isActiveState = (state: string): boolean =>
  state === 'Queued' || state === 'Executing' || state === 'Cancelling';

/** Names Octopus did not recognise, as "Project 'X'" lines. */
export class UnknownNamesError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join(' '));
    this.name = 'UnknownNamesError';
  }
}

async function resolveAll(
  octopus: OctopusClient,
  kind: 'project' | 'environment' | 'tenant',
  names: Iterable<string>,
  problems: string[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await Promise.all(
    [...new Set(names)].map(async (name) => {
      try {
        out.set(name, (await octopus.resolve.resolve(kind, name)).Id);
      } catch (err) {
        problems.push(err instanceof Error ? err.message : String(err));
      }
    }),
  );
  return out;
}

/**
 * Read the snapshot: one dynamic-dashboard call (with the previous successful deployments), plus
 * the name lists the resolver caches for the life of the process.
 */
export async function readSnapshot(
  octopus: OctopusClient,
  needs: SnapshotNeeds,
  tenantNames: Iterable<string> = [],
): Promise<DeploymentSnapshot> {
  const problems: string[] = [];
  const [projectIds, environmentIds, tenantIds] = await Promise.all([
    resolveAll(octopus, 'project', needs.projects, problems),
    resolveAll(octopus, 'environment', needs.environments, problems),
    resolveAll(octopus, 'tenant', tenantNames, problems),
  ]);
  if (problems.length > 0) throw new UnknownNamesError(problems);
  const dashboard = await octopus.dashboard.dynamic({
    projects: [...new Set(projectIds.values())],
    environments: needs.allEnvironments ? undefined : [...new Set(environmentIds.values())],
    includePrevious: true,
  });
  return new DeploymentSnapshot(dashboard, projectIds, environmentIds, tenantIds);
}
