// Turns a configured playbook (plus the caller's overrides) into the RunPlan the engine executes.
import type { CoordinationConfig } from '../config/coordination/schema.js';
import { CoordinatorError } from '../errors.js';
import type { Action, FailureAction, Playbook } from '../config/coordination/playbooks.js';
import { defaultGroupTemplate, renderGroup } from './groups.js';
import type {
  PlanAction,
  PlanCell,
  PlanDeploy,
  PlanFailureAction,
  PlanRunbook,
  RunPlan,
} from './types.js';

export interface PlaybookOverrides {
  /** Deploy (and run runbooks) in this environment instead of the one each action names. */
  environment?: string;
  /** Deploy (and run runbooks) for this tenant only. */
  tenant?: string;
}

export class UnknownPlaybookError extends CoordinatorError {
  constructor(
    readonly playbook: string,
    readonly known: string[],
  ) {
    super(
      'not_found',
      'unknown_playbook',
      `There is no playbook "${playbook}" in the coordination config (known: ${known.length ? known.join(', ') : 'none'}). ` +
        'Add it under "playbooks" or use one of the known names.',
      { known },
    );
    this.name = 'UnknownPlaybookError';
  }
}

function tenantsFor(listed: string[] | undefined, overrides: PlaybookOverrides): (string | null)[] {
  if (overrides.tenant) return [overrides.tenant];
  return listed && listed.length > 0 ? listed : [null];
}

/** Ids go into Octopus Comments markers, so a tenant's spaces become underscores. */
const withTenant = (id: string, tenant: string | null, many: boolean): string =>
  tenant && many ? `${id}@${tenant.replace(/\s+/g, '_')}` : id;

function expandAction(
  action: Action | FailureAction,
  fallbackId: string,
  overrides: PlaybookOverrides,
): PlanAction[] | PlanFailureAction[] {
  const id = action.id ?? fallbackId;
  switch (action.type) {
    case 'deploy': {
      const tenants = tenantsFor(action.tenants, overrides);
      return tenants.map((tenant): PlanDeploy => ({
        type: 'deploy',
        id: withTenant(id, tenant, tenants.length > 1 || action.tenants !== undefined),
        project: action.project,
        environment: overrides.environment ?? action.environment,
        tenant,
        release: action.release,
        when: action.when,
        allowDowngrade: action.allowDowngrade,
        rollback: false,
        timeoutMinutes: action.timeoutMinutes,
      }));
    }
    case 'runbook': {
      const tenants = tenantsFor(action.tenants, overrides);
      return tenants.map((tenant): PlanRunbook => ({
        type: 'runbook',
        id: withTenant(id, tenant, tenants.length > 1 || action.tenants !== undefined),
        project: action.project,
        runbook: action.runbook,
        environment: overrides.environment ?? action.environment,
        tenant,
        timeoutMinutes: action.timeoutMinutes,
      }));
    }
    case 'wait':
      return [{ ...action, id }];
    case 'notify':
      return [{ ...action, id }];
    case 'webhook':
      return [{ ...action, id }];
    case 'check':
      return [{ ...action, id }];
    case 'approval':
      return [
        {
          type: 'approval',
          id,
          approvers: action.approvers,
          minApprovals: action.minApprovals,
          timeoutMinutes: action.timeoutMinutes,
        },
      ];
    case 'redeployPrevious':
      return [
        {
          type: 'redeployPrevious',
          id,
          projects: action.projects,
          environment: overrides.environment ?? action.environment,
          timeoutMinutes: action.timeoutMinutes,
        },
      ];
  }
}

/** Each project's depth in the config's dependsOn graphs (0: depends on nothing configured). */
export function dependencyDepths(config: CoordinationConfig): Record<string, number> {
  const needs = new Map<string, Set<string>>();
  for (const set of Object.values(config.projectSets)) {
    for (const [project, deps] of Object.entries(set.dependsOn)) {
      const all = needs.get(project) ?? new Set<string>();
      deps.forEach((d) => all.add(d));
      needs.set(project, all);
    }
  }
  const depth = new Map<string, number>();
  const visit = (project: string, path: string[]): number => {
    const known = depth.get(project);
    if (known !== undefined) return known;
    if (path.includes(project)) return 0; // the config refuses cycles; never loop here
    const deps = [...(needs.get(project) ?? [])];
    const d =
      deps.length === 0 ? 0 : 1 + Math.max(...deps.map((x) => visit(x, [...path, project])));
    depth.set(project, d);
    return d;
  };
  for (const project of needs.keys()) visit(project, []);
  return Object.fromEntries(depth);
}

/** The plan of a configured playbook, with overrides applied. Throws UnknownPlaybookError. */
export function planFromPlaybook(
  config: CoordinationConfig,
  name: string,
  overrides: PlaybookOverrides = {},
): RunPlan {
  const playbook: Playbook | undefined = Object.hasOwn(config.playbooks, name)
    ? config.playbooks[name]
    : undefined;
  if (!playbook) throw new UnknownPlaybookError(name, Object.keys(config.playbooks));
  const stages = playbook.stages.map((stage, s) => ({
    name: stage.name,
    actions: stage.actions.flatMap(
      (a, i) => expandAction(a, `${a.type}-${s + 1}-${i + 1}`, overrides) as PlanAction[],
    ),
  }));
  const onFailure = playbook.onFailure.flatMap(
    (a, i) => expandAction(a, `${a.type}-${i + 1}`, overrides) as PlanFailureAction[],
  );
  const firstDeploy = stages
    .flatMap((s) => s.actions)
    .find((a) => a.type === 'deploy' || a.type === 'runbook');
  const environment =
    overrides.environment ??
    (firstDeploy && 'environment' in firstDeploy ? firstDeploy.environment : undefined);
  return {
    kind: 'playbook',
    name,
    description: playbook.description,
    environment,
    tenant: overrides.tenant,
    concurrency: {
      group: renderGroup(
        playbook.concurrency.group ?? defaultGroupTemplate({ kind: 'playbook', name }),
        {
          environment,
          tenant: overrides.tenant,
        },
      ),
      policy: playbook.concurrency.policy,
    },
    stages,
    onFailure,
    onFailureWhenCancelled: playbook.onFailureWhenCancelled,
    rollbackOrder: playbook.rollbackOrder,
    onFreeze: playbook.onFreeze,
    dependencyDepth: dependencyDepths(config),
    timeoutMinutes: playbook.timeoutMinutes,
    recipients: playbook.recipients ?? [],
  };
}

export const cellKey = (c: PlanCell): string =>
  `${c.project}\u0000${c.environment}\u0000${c.tenant ?? ''}`;

/**
 * The cells whose releases are captured before the run: every deploy of the stages, and every cell a
 * redeployPrevious may put back (its projects in the named environment, or where the stages deploy them).
 */
export function cellsToCapture(plan: RunPlan): PlanCell[] {
  if (plan.capture) return plan.capture;
  const cells = new Map<string, PlanCell>();
  const add = (c: PlanCell) => cells.set(cellKey(c), c);
  const deploys = plan.stages
    .flatMap((s) => s.actions)
    .filter((a): a is PlanDeploy => a.type === 'deploy');
  deploys.forEach((d) => add({ project: d.project, environment: d.environment, tenant: d.tenant }));
  for (const entry of plan.onFailure) {
    if (entry.type !== 'redeployPrevious') continue;
    for (const project of entry.projects) {
      const mine = deploys.filter((d) => d.project === project);
      if (entry.environment) {
        const tenants =
          mine.length > 0 ? [...new Set(mine.map((d) => d.tenant))] : [plan.tenant ?? null];
        tenants.forEach((tenant) => add({ project, environment: entry.environment ?? '', tenant }));
      } else if (mine.length > 0) {
        mine.forEach((d) => add({ project, environment: d.environment, tenant: d.tenant }));
      } else if (plan.environment) {
        add({ project, environment: plan.environment, tenant: plan.tenant ?? null });
      }
    }
  }
  return [...cells.values()];
}

/** Every action id the plan uses must be unique (ids are in the Comments marker). */
export function duplicateActionIds(plan: RunPlan): string[] {
  const seen = new Set<string>();
  const dupes = new Set<string>();
  for (const a of [...plan.stages.flatMap((s) => s.actions), ...plan.onFailure]) {
    if (seen.has(a.id)) dupes.add(a.id);
    seen.add(a.id);
  }
  return [...dupes];
}
