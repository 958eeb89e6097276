// The promotion plan: which release of each project moves from X to Y, in which stage, and what stops it.
import type { FreezeWindow } from '../config/coordination/common.js';
import type { ProjectSet } from '../config/coordination/sets.js';
import type { Promotion } from '../config/coordination/promotions.js';
import type { ConditionResult } from '../conditions/evaluate.js';
import type { DeploymentSnapshot, NamedCell } from '../conditions/snapshot.js';
import { compareVersions } from '../versions.js';
import { isActiveState } from '../conditions/snapshot.js';
import type { DashboardItem } from '../octopus/dashboard.js';
import { activeFreeze, describeFreeze } from './freeze.js';
import { DependencyCycleError, dependencyStages } from './stages.js';

export interface PromotionItem {
  project: string;
  /** Tenant name, or null for an untenanted project. */
  tenant: string | null;
  action: 'deploy' | 'skip';
  /** The release that moves (deploy), or the one that would have (skip). */
  release?: { id: string; version: string; channelId?: string; train?: string };
  /** What the target has now (latest deployment, any state). */
  target?: { version: string; state: string };
  /** Why, in words for people. */
  reason: string;
}

export interface PromotionStage {
  name: string;
  projects: string[];
  items: PromotionItem[];
}

export interface PromotionPlan {
  promotion: string;
  set: string;
  from: string;
  to: string;
  /** The moment the plan is for (the slot, or now). */
  at: string;
  stages: PromotionStage[];
  /** Each guard or condition that stops the promotion; empty when it may run. */
  blockers: string[];
  /** How many deployments the run would create. */
  deployCount: number;
  /** The freezes (coordinator or Octopus ids) that stop it, when any do. */
  frozenBy?: string[];
  /** What the freeze check could not see (an Octopus server without the freezes API, …). */
  freezeNotes?: string[];
  /** With `"source": "train"`: the train chosen for each tenant (null: untenanted), and why; or why none. */
  trains?: { tenant: string | null; id: string | null; why: string }[];
}

export interface PromotionPlanInput {
  promotion: Promotion;
  set: ProjectSet;
  /** Freeze windows of the whole config (the promotion's own are added). */
  freezeWindows: readonly FreezeWindow[];
  at: Date;
  /** Dashboard of the set's projects in `from` and `to` (with previous successful deployments). */
  snapshot: DeploymentSnapshot;
  /** The promotion's conditions, judged on the same snapshot. */
  conditions: ConditionResult;
  /** With `"source": "train"`: what was chosen from the trains (see readPlan.ts). */
  trains?: PromotionTrains;
}

/** The trains a promotion takes its releases from, and the releases they hold by project × tenant. */
export interface PromotionTrains {
  choices: { tenant: string | null; id: string | null; why: string }[];
  /** Key: `trainKey(project, tenant)`; tenant null for an untenanted project. */
  releases: Map<string, { releaseId: string; version: string; train: string }>;
  /** Projects two trains disagree about (an untenanted project in trains of several tenants). */
  conflicts: string[];
}

export const trainKey = (project: string, tenant: string | null): string =>
  `${project.toLowerCase()}\u0000${(tenant ?? '').toLowerCase()}`;

const where = (env: string, tenant: string | null) => (tenant ? `${env} for ${tenant}` : env);

/** The tenants to promote for one project: none (untenanted), the configured ones, or those deployed in the source. */
function tenantsOf(input: PromotionPlanInput, project: string): (string | null)[] {
  const p = input.snapshot.project(project);
  if (!p || p.tenanted === 'Untenanted') return [null];
  const configured = input.promotion.tenants ?? input.set.tenants;
  if (configured && configured.length > 0) return configured;
  const cells = input.snapshot.cells(project, input.promotion.from);
  return cells.length > 0 ? cells.map((c) => c.tenant) : [null];
}

function highest(items: (DashboardItem | undefined)[]): DashboardItem | undefined {
  return items.reduce<DashboardItem | undefined>(
    (best, i) =>
      i && (!best || compareVersions(i.ReleaseVersion, best.ReleaseVersion) > 0) ? i : best,
    undefined,
  );
}

function planItem(
  input: PromotionPlanInput,
  project: string,
  tenant: string | null,
  blockers: string[],
): PromotionItem {
  const { from, to, requireSuccessfulSource } = input.promotion;
  const base = { project, tenant };
  const source: NamedCell | undefined = input.snapshot.cell(project, from, tenant);
  const target: NamedCell | undefined = input.snapshot.cell(project, to, tenant);
  if (!source || !target)
    return { ...base, action: 'skip', reason: `${project} is not on the Octopus dashboard` };
  const targetNow = target.current
    ? { version: target.current.ReleaseVersion, state: target.current.State }
    : undefined;
  const withTarget = { ...base, ...(targetNow ? { target: targetNow } : {}) };

  if (input.trains)
    return trainItem(input, input.trains, withTarget, target, project, tenant, blockers);
  const current = source.current;
  if (!current) {
    const reason = `${project} has never been deployed to ${where(from, tenant)}`;
    if (requireSuccessfulSource)
      blockers.push(
        `${reason}, and the promotion requires a successful deployment of every project there`,
      );
    return { ...withTarget, action: 'skip', reason };
  }
  let chosen = current;
  if (current.State !== 'Success') {
    const state = isActiveState(current.State) ? `still ${current.State}` : current.State;
    if (requireSuccessfulSource) {
      blockers.push(
        `${project} ${current.ReleaseVersion} in ${where(from, tenant)} is ${state}; the promotion requires every source deployment to be successful`,
      );
      return { ...withTarget, action: 'skip', reason: `source deployment is ${state}` };
    }
    if (!source.lastSuccessful) {
      return {
        ...withTarget,
        action: 'skip',
        reason: `${project} has no successful deployment in ${where(from, tenant)}`,
      };
    }
    chosen = source.lastSuccessful;
  }
  const release = {
    id: chosen.ReleaseId,
    version: chosen.ReleaseVersion,
    ...(chosen.ChannelId ? { channelId: chosen.ChannelId } : {}),
  };
  const whyRelease =
    chosen === current
      ? `current and successful in ${where(from, tenant)}`
      : `last successful in ${where(from, tenant)}`;
  return targetItem(input, { ...withTarget, release }, target, whyRelease);
}

/** A project's item when the release comes from the promotion's train. */
function trainItem(
  input: PromotionPlanInput,
  trains: PromotionTrains,
  withTarget: Omit<PromotionItem, 'action' | 'reason'>,
  target: NamedCell,
  project: string,
  tenant: string | null,
  blockers: string[],
): PromotionItem {
  const noTrain = {
    ...withTarget,
    action: 'skip' as const,
    reason: 'no verified train to take the release from',
  };
  if (trains.choices.some((c) => c.tenant === tenant && c.id === null)) return noTrain;
  if (trains.conflicts.includes(project)) {
    blockers.push(
      `the trains of the tenants hold different releases of ${project} (an untenanted project): promote them one tenant at a time`,
    );
    return { ...withTarget, action: 'skip', reason: 'the trains disagree about its release' };
  }
  const found = trains.releases.get(trainKey(project, tenant));
  if (!found && trains.choices.some((c) => c.id === null)) return noTrain;
  if (!found) {
    blockers.push(
      `${project}${tenant ? ` for ${tenant}` : ''} is not in the chosen train (${trains.choices.map((c) => c.id).join(', ')}); capture a train that has every project of the set`,
    );
    return { ...withTarget, action: 'skip', reason: 'not in the chosen train' };
  }
  return targetItem(
    input,
    { ...withTarget, release: { id: found.releaseId, version: found.version, train: found.train } },
    target,
    `in train ${found.train}`,
  );
}

/** Whether the chosen release moves to the target: skip what is current there, never downgrade, join what runs. */
function targetItem(
  input: PromotionPlanInput,
  item: Omit<PromotionItem, 'action' | 'reason'> & {
    release: NonNullable<PromotionItem['release']>;
  },
  target: NamedCell,
  whyRelease: string,
): PromotionItem {
  const { to } = input.promotion;
  const { release, tenant } = item;
  const targetCurrent = target.current;
  if (targetCurrent?.ReleaseId === release.id && targetCurrent.State === 'Success') {
    return {
      ...item,
      action: 'skip',
      reason: `${release.version} is already current in ${where(to, tenant)}`,
    };
  }
  const newest = highest([targetCurrent, target.lastSuccessful]);
  if (
    newest &&
    newest.ReleaseId !== release.id &&
    compareVersions(release.version, newest.ReleaseVersion) < 0
  ) {
    return {
      ...item,
      action: 'skip',
      reason: `would move ${where(to, tenant)} back from ${newest.ReleaseVersion} to ${release.version}; a promotion never downgrades`,
    };
  }
  if (targetCurrent?.ReleaseId === release.id && isActiveState(targetCurrent.State)) {
    return {
      ...item,
      action: 'deploy',
      reason: `${release.version} is already ${targetCurrent.State} in ${where(to, tenant)}: the run joins it`,
    };
  }
  const was = targetCurrent
    ? targetCurrent.ReleaseId === release.id
      ? `its last deployment there ${targetCurrent.State}`
      : `${where(to, tenant)} has ${targetCurrent.ReleaseVersion}`
    : `first deployment to ${where(to, tenant)}`;
  return { ...item, action: 'deploy', reason: `${release.version} is ${whyRelease} (${was})` };
}

/** Build the plan from what was read. Pure: the same snapshot and time give the same plan. */
export function planPromotion(input: PromotionPlanInput): PromotionPlan {
  const { promotion, set } = input;
  const blockers: string[] = [];
  if (!promotion.enabled)
    blockers.push(`promotion "${promotion.name}" is disabled in the coordination config`);
  const freeze = activeFreeze([...promotion.freezeWindows, ...input.freezeWindows], input.at);
  if (freeze)
    blockers.push(
      `${describeFreeze(freeze)}; the promotion runs again at its next slot after the window`,
    );
  if (!input.conditions.ok) blockers.push(...input.conditions.reasons.map((r) => `condition ${r}`));
  for (const choice of input.trains?.choices ?? [])
    if (choice.id === null) blockers.push(choice.why);

  let order: string[][];
  try {
    order = dependencyStages(set.projects, set.dependsOn);
  } catch (err) {
    if (!(err instanceof DependencyCycleError)) throw err;
    blockers.push(err.message);
    order = [];
  }
  const stages = order.map((projects, i) => ({
    name: `Stage ${i + 1}: ${projects.join(', ')}`,
    projects,
    items: projects.flatMap((p) => tenantsOf(input, p).map((t) => planItem(input, p, t, blockers))),
  }));
  return {
    promotion: promotion.name,
    set: promotion.set,
    from: promotion.from,
    to: promotion.to,
    at: input.at.toISOString(),
    stages,
    blockers: [...new Set(blockers)],
    deployCount: stages.reduce(
      (n, s) => n + s.items.filter((i) => i.action === 'deploy').length,
      0,
    ),
    ...(input.trains ? { trains: input.trains.choices } : {}),
  };
}

/** Refuse items the target's lifecycle does not allow yet (the server's deployment template says where a release may go). */
export function applyLifecycle(
  plan: PromotionPlan,
  allowed: (item: PromotionItem) => boolean | undefined,
): PromotionPlan {
  const blockers = [...plan.blockers];
  for (const stage of plan.stages) {
    for (const item of stage.items) {
      if (item.action !== 'deploy' || !item.release) continue;
      if (allowed(item) === false) {
        blockers.push(
          `${item.project} ${item.release.version} may not be deployed to ${where(plan.to, item.tenant)} yet: its lifecycle does not allow it (promote it through the earlier phases first)`,
        );
      }
    }
  }
  return { ...plan, blockers };
}

/** The plan as text for people: the CLI, the summary email, logs. */
export function describePlan(plan: PromotionPlan): string {
  const lines = [
    `Promotion "${plan.promotion}": set ${plan.set} from ${plan.from} to ${plan.to} (at ${plan.at})`,
  ];
  for (const t of plan.trains ?? [])
    lines.push(
      `  Train${t.tenant ? ` for ${t.tenant}` : ''}: ${t.id ? `${t.id}: ` : 'none: '}${t.why}`,
    );
  for (const stage of plan.stages) {
    lines.push(`  ${stage.name}`);
    for (const item of stage.items) {
      const who = item.tenant ? `${item.project} [${item.tenant}]` : item.project;
      const verb = item.action === 'deploy' ? `deploy ${item.release?.version ?? '?'}` : 'skip';
      lines.push(`    - ${who}: ${verb}: ${item.reason}`);
    }
  }
  for (const n of plan.freezeNotes ?? []) lines.push(`  Note: ${n}.`);
  if (plan.blockers.length > 0) {
    lines.push('  Would not run, because:');
    for (const b of plan.blockers) lines.push(`    ! ${b}`);
  } else if (plan.deployCount === 0) {
    lines.push('  Nothing to promote: every project is already current or skipped.');
  } else {
    lines.push(`  ${plan.deployCount} deployment(s) would be created.`);
  }
  return lines.join('\n');
}
