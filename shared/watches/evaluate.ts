// Deciding, from a status reading, what a watch should announce. Pure: no storage, no Octopus, no mail.
import { createHash } from 'node:crypto';
import type { Watch } from '../config/coordination/watches.js';
import type { SetCell } from '../status/snapshot.js';

/** One project's release in an announcement. */
export interface AnnouncedRelease {
  project: string;
  tenant: string | null;
  version: string;
  releaseId: string;
  deploymentId: string;
  taskId: string;
  state: string;
  completedTime: string | null;
  errorMessage: string | null;
}

export interface WatchNotice {
  watch: Watch;
  /** `live`: the whole set is deployed; `failure`: a member's deployment failed. */
  kind: 'live' | 'failure';
  set: string;
  spaceId: string;
  environment: string;
  /** A tenant name, null when untenanted, or "all tenants" for tenantMode `all`. */
  tenant: string | null;
  releases: AnnouncedRelease[];
  /** Stable identity of what is announced: the same combination always gives the same key. */
  claimKey: string;
}

/** Why a complete cell was not announced (for logs and status). */
export interface WatchSkip {
  watch: string;
  environment: string;
  tenant: string | null;
  reason: string;
}

const failedStates = new Set(['Failed', 'TimedOut']);

function hash(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 40);
}

function releasesOf(cell: SetCell, only?: (state: string) => boolean): AnnouncedRelease[] {
  const out: AnnouncedRelease[] = [];
  for (const p of cell.projects) {
    const d = p.current;
    if (!d || (only && !only(d.State))) continue;
    out.push({
      project: p.project,
      tenant: cell.tenant?.name ?? null,
      version: d.ReleaseVersion,
      releaseId: d.ReleaseId,
      deploymentId: d.DeploymentId || d.Id,
      taskId: d.TaskId,
      state: d.State,
      completedTime: d.CompletedTime ?? null,
      errorMessage: d.ErrorMessage ? d.ErrorMessage : null,
    });
  }
  return out;
}

/** Does the combination satisfy the watch's release rule? Undefined when it does, else why not. */
export function releaseRuleProblem(
  watch: Watch,
  releases: readonly AnnouncedRelease[],
): string | undefined {
  const rule = watch.releaseRule;
  if (!rule) return undefined;
  if ('sameVersion' in rule) {
    const versions = new Set(releases.map((r) => r.version));
    return versions.size <= 1
      ? undefined
      : `the releases differ (${[...versions].join(', ')}) and the watch wants the same version everywhere`;
  }
  const matches = (combination: Record<string, string>) =>
    Object.entries(combination).every(([project, version]) =>
      releases
        .filter((r) => r.project.toLowerCase() === project.toLowerCase())
        .every((r) => r.version === version),
    );
  if (rule.combinations.some(matches)) return undefined;
  const current = releases.map((r) => `${r.project} ${r.version}`).join(', ');
  return `${current} is not one of the watch's listed release combinations`;
}

function inWatch(watch: Watch, cell: SetCell): boolean {
  if (cell.set !== watch.set) return false;
  if (!watch.environments.some((e) => e.toLowerCase() === cell.environment.toLowerCase()))
    return false;
  if (!watch.tenants) return true;
  return (
    cell.tenant !== null &&
    watch.tenants.some((t) => t.toLowerCase() === cell.tenant?.name.toLowerCase())
  );
}

function liveNotice(
  watch: Watch,
  cells: SetCell[],
  tenant: string | null,
): WatchNotice | undefined {
  const first = cells[0];
  if (!first) return undefined;
  const releases = cells.flatMap((c) => releasesOf(c));
  const combination = releases.map((r) => [r.tenant, r.project, r.releaseId]).sort();
  return {
    watch,
    kind: 'live',
    set: watch.set,
    spaceId: first.spaceId,
    environment: first.environment,
    tenant,
    releases,
    claimKey: `live-${hash([first.environment.toLowerCase(), tenant, combination])}`,
  };
}

/** What the watch should announce given these cells (from a snapshot), and what it held back. */
export function watchNotices(
  watch: Watch,
  allCells: readonly SetCell[],
): { notices: WatchNotice[]; skipped: WatchSkip[] } {
  const cells = allCells.filter((c) => inWatch(watch, c));
  const notices: WatchNotice[] = [];
  const skipped: WatchSkip[] = [];
  const consider = (group: SetCell[], tenant: string | null) => {
    const first = group[0];
    if (!first || !group.every((c) => c.state === 'complete')) return;
    const notice = liveNotice(watch, group, tenant);
    if (!notice) return;
    const problem = releaseRuleProblem(watch, notice.releases);
    if (problem)
      skipped.push({ watch: watch.name, environment: first.environment, tenant, reason: problem });
    else notices.push(notice);
  };
  const tenanted = cells.some((c) => c.tenant !== null);
  if (tenanted && watch.tenantMode === 'all') {
    const byEnvironment = new Map<string, SetCell[]>();
    for (const c of cells)
      byEnvironment.set(c.environment, [...(byEnvironment.get(c.environment) ?? []), c]);
    for (const group of byEnvironment.values()) consider(group, 'all tenants');
  } else {
    for (const c of cells) consider([c], c.tenant?.name ?? null);
  }
  if (watch.notifyOnFailure) {
    for (const c of cells) {
      for (const failed of releasesOf(c, (s) => failedStates.has(s))) {
        notices.push({
          watch,
          kind: 'failure',
          set: watch.set,
          spaceId: c.spaceId,
          environment: c.environment,
          tenant: c.tenant?.name ?? null,
          releases: [failed],
          claimKey: `failure-${hash([failed.deploymentId])}`,
        });
      }
    }
  }
  // An untenanted member counts for every tenant: announce its failure once.
  const unique = new Map(notices.map((n) => [n.claimKey, n]));
  return { notices: [...unique.values()], skipped };
}
