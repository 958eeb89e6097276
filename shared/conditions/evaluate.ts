// Conditions: expand named and inline rules, read what they need in one dashboard call, judge them purely.
import type { Condition, ConditionRef } from '../config/coordination/conditions.js';
import type { CoordinationConfig } from '../config/coordination/schema.js';
import type { OctopusClient } from '../octopus/client.js';
import { compareVersions } from '../versions.js';
import { DeploymentSnapshot, emptyNeeds, readSnapshot, type SnapshotNeeds } from './snapshot.js';

export type ConditionResult = { ok: true } | { ok: false; reasons: string[] };

/** Where a condition is asked about: conditions that name no environment or tenant use these. */
export interface ConditionScope {
  environment?: string;
  tenant?: string;
}

/** One rule with its environment and tenant settled, and the name it came from (for reasons). */
export type ConditionLeaf =
  | {
      type: 'minVersion';
      label: string;
      project: string;
      atLeast: string;
      environment?: string;
      tenant?: string;
    }
  | {
      type: 'setCurrent';
      label: string;
      set: string;
      projects: string[];
      tenants?: string[];
      environment?: string;
      successful: boolean;
    }
  | {
      type: 'noActiveDeployment';
      label: string;
      what: string;
      projects: string[];
      environment?: string;
    }
  | { type: 'invalid'; label: string; reason: string };

function describe(c: Condition): string {
  switch (c.type) {
    case 'minVersion':
      return `${c.project} >= ${c.atLeast}`;
    case 'setCurrent':
      return `set ${c.set} current`;
    case 'noActiveDeployment':
      return `no active deployment of ${c.project ?? `set ${c.set ?? '?'}`}`;
    case 'allOf':
      return 'all of';
  }
}

/** Flatten a condition (allOf and named references) into leaves; a named reference cycle is an invalid leaf. */
export function expandCondition(
  ref: ConditionRef,
  config: CoordinationConfig,
  scope: ConditionScope,
  seen: readonly string[] = [],
  label?: string,
): ConditionLeaf[] {
  if (typeof ref === 'string') {
    if (seen.includes(ref)) {
      return [
        {
          type: 'invalid',
          label: ref,
          reason: `condition "${ref}" refers to itself (${[...seen, ref].join(' -> ')}); fix the config`,
        },
      ];
    }
    const named = Object.hasOwn(config.conditions, ref) ? config.conditions[ref] : undefined;
    if (!named) {
      const known = Object.keys(config.conditions);
      return [
        {
          type: 'invalid',
          label: ref,
          reason: `there is no condition "${ref}" in the coordination config (known: ${known.length ? known.join(', ') : 'none'})`,
        },
      ];
    }
    return expandCondition(named, config, scope, [...seen, ref], ref);
  }
  const name = label ?? describe(ref);
  switch (ref.type) {
    case 'allOf':
      return ref.conditions.flatMap((c) => expandCondition(c, config, scope, seen));
    case 'minVersion':
      return [
        {
          type: 'minVersion',
          label: name,
          project: ref.project,
          atLeast: ref.atLeast,
          environment: ref.environment ?? scope.environment,
          tenant: ref.tenant ?? scope.tenant,
        },
      ];
    case 'setCurrent': {
      const set = projectSet(config, ref.set);
      if (!set) return [unknownSet(config, ref.set, name)];
      return [
        {
          type: 'setCurrent',
          label: name,
          set: ref.set,
          projects: set.projects,
          tenants: scope.tenant ? [scope.tenant] : set.tenants,
          environment: ref.environment ?? scope.environment,
          successful: ref.successful,
        },
      ];
    }
    case 'noActiveDeployment': {
      const projects: string[] = ref.project ? [ref.project] : [];
      if (ref.set) {
        const set = projectSet(config, ref.set);
        if (!set) return [unknownSet(config, ref.set, name)];
        projects.push(...set.projects.filter((p) => !projects.includes(p)));
      }
      const what = [ref.project, ref.set ? `set ${ref.set}` : undefined]
        .filter(Boolean)
        .join(' or ');
      return [
        {
          type: 'noActiveDeployment',
          label: name,
          what,
          projects,
          environment: ref.environment ?? scope.environment,
        },
      ];
    }
  }
}

function projectSet(
  config: CoordinationConfig,
  name: string,
): CoordinationConfig['projectSets'][string] | undefined {
  return Object.hasOwn(config.projectSets, name) ? config.projectSets[name] : undefined;
}

function unknownSet(config: CoordinationConfig, set: string, label: string): ConditionLeaf {
  const known = Object.keys(config.projectSets);
  return {
    type: 'invalid',
    label,
    reason: `there is no project set "${set}" in the coordination config (known: ${known.length ? known.join(', ') : 'none'}); fix the condition or add the set`,
  };
}

/** What the leaves need read from Octopus (one dashboard call covers all of them). */
export function leafNeeds(leaves: readonly ConditionLeaf[]): {
  needs: SnapshotNeeds;
  tenants: Set<string>;
} {
  const needs = emptyNeeds();
  const tenants = new Set<string>();
  for (const leaf of leaves) {
    if (leaf.type === 'invalid') continue;
    const projects = leaf.type === 'minVersion' ? [leaf.project] : leaf.projects;
    projects.forEach((p) => needs.projects.add(p));
    if (leaf.environment) needs.environments.add(leaf.environment);
    else if (leaf.type === 'noActiveDeployment') needs.allEnvironments = true;
    if (leaf.type === 'minVersion' && leaf.tenant) tenants.add(leaf.tenant);
    if (leaf.type === 'setCurrent') leaf.tenants?.forEach((t) => tenants.add(t));
  }
  return { needs, tenants };
}

const tenantSuffix = (tenant: string | null) => (tenant ? ` for ${tenant}` : '');

/** The reasons a leaf does not hold (empty when it holds). Pure. */
export function judgeLeaf(leaf: ConditionLeaf, snapshot: DeploymentSnapshot): string[] {
  const say = (text: string) => `${leaf.label}: ${text}`;
  switch (leaf.type) {
    case 'invalid':
      return [say(leaf.reason)];
    case 'minVersion': {
      if (!leaf.environment)
        return [say('names no environment, and none was given with the request')];
      const project = snapshot.project(leaf.project);
      if (!project) return [say(`project ${leaf.project} is not on the dashboard`)];
      const cells = snapshot.cells(
        leaf.project,
        leaf.environment,
        leaf.tenant ? [leaf.tenant] : undefined,
      );
      if (cells.length === 0)
        return [
          say(
            `${leaf.project} has never been deployed to ${leaf.environment} (needs ${leaf.atLeast} or higher)`,
          ),
        ];
      return cells.flatMap((cell) => {
        const where = `${leaf.environment}${tenantSuffix(cell.tenant)}`;
        const good = cell.lastSuccessful;
        if (!good)
          return [
            say(
              `${leaf.project} has no successful deployment in ${where} (needs ${leaf.atLeast} or higher)`,
            ),
          ];
        if (compareVersions(good.ReleaseVersion, leaf.atLeast) < 0) {
          return [
            say(
              `${leaf.project} is at ${good.ReleaseVersion} in ${where}; it needs ${leaf.atLeast} or higher`,
            ),
          ];
        }
        return [];
      });
    }
    case 'setCurrent': {
      if (!leaf.environment)
        return [say('names no environment, and none was given with the request')];
      const environment = leaf.environment;
      return leaf.projects.flatMap((p) => {
        if (!snapshot.project(p)) return [say(`project ${p} is not on the dashboard`)];
        const cells = snapshot.cells(p, environment, leaf.tenants);
        if (cells.length === 0) return [say(`${p} has not been deployed to ${environment}`)];
        return cells.flatMap((cell) => {
          const where = `${environment}${tenantSuffix(cell.tenant)}`;
          if (!cell.current) return [say(`${p} has not been deployed to ${where}`)];
          if (leaf.successful && cell.current.State !== 'Success') {
            return [
              say(
                `${p} ${cell.current.ReleaseVersion} in ${where} is ${cell.current.State}, not successful`,
              ),
            ];
          }
          return [];
        });
      });
    }
    case 'noActiveDeployment':
      return leaf.projects.flatMap((p) =>
        snapshot.active(p, leaf.environment).map((item) => {
          const where = snapshot.environmentName(item.EnvironmentId);
          const tenant = item.TenantId ? ` for ${snapshot.tenantName(item.TenantId)}` : '';
          const verb =
            item.State === 'Queued'
              ? 'queued'
              : item.State === 'Cancelling'
                ? 'being cancelled'
                : 'running';
          return say(
            `${p} ${item.ReleaseVersion} is ${verb} in ${where}${tenant} (task ${item.TaskId})`,
          );
        }),
      );
  }
}

export function judgeLeaves(
  leaves: readonly ConditionLeaf[],
  snapshot: DeploymentSnapshot,
): ConditionResult {
  const reasons = leaves.flatMap((l) => judgeLeaf(l, snapshot));
  return reasons.length === 0 ? { ok: true } : { ok: false, reasons };
}

/** Evaluate conditions (all must hold) with one dashboard read. */
export async function checkConditions(
  octopus: OctopusClient,
  config: CoordinationConfig,
  refs: readonly ConditionRef[],
  scope: ConditionScope = {},
): Promise<ConditionResult> {
  const leaves = refs.flatMap((r) => expandCondition(r, config, scope));
  const invalid = leaves.filter((l) => l.type === 'invalid');
  if (invalid.length > 0)
    return judgeLeaves(
      invalid,
      new DeploymentSnapshot(emptyDashboard, new Map(), new Map(), new Map()),
    );
  const { needs, tenants } = leafNeeds(leaves);
  if (needs.projects.size === 0) return { ok: true };
  const snapshot = await readSnapshot(octopus, needs, tenants);
  return judgeLeaves(leaves, snapshot);
}

/** One condition (the engine's `check` and `wait` actions, the API). */
export function checkCondition(
  octopus: OctopusClient,
  config: CoordinationConfig,
  ref: ConditionRef,
  scope: ConditionScope = {},
): Promise<ConditionResult> {
  return checkConditions(octopus, config, [ref], scope);
}

const emptyDashboard = { Projects: [], Environments: [], Items: [] };
