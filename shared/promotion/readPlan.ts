// Read what a promotion plan needs from Octopus: one dashboard call, plus one lifecycle check per release to deploy.
import type { CoordinationConfig } from '../config/coordination/schema.js';
import { CoordinatorError } from '../errors.js';
import type { Promotion } from '../config/coordination/promotions.js';
import { expandCondition, judgeLeaves, leafNeeds } from '../conditions/evaluate.js';
import { mergeNeeds, readSnapshot } from '../conditions/snapshot.js';
import type { DeploymentSnapshot } from '../conditions/snapshot.js';
import type { OctopusClient } from '../octopus/client.js';
import type { ReleaseDeploymentTemplate } from '../octopus/releases.js';
import { describeHit, type FreezeCheck, type FreezeHit } from '../freezes/model.js';
import { lifecycleVerdict } from '../runs/lifecycle.js';
import type { ProjectSet } from '../config/coordination/sets.js';
import type { TableStore } from '../storage/tableStore.js';
import { chooseVerifiedTrain } from '../trains/select.js';
import {
  applyLifecycle,
  planPromotion,
  trainKey,
  type PromotionPlan,
  type PromotionTrains,
} from './plan.js';

export class UnknownPromotionError extends CoordinatorError {
  constructor(name: string, known: string[]) {
    super(
      'not_found',
      'unknown_promotion',
      `There is no promotion "${name}" in the coordination config (known: ${known.length ? known.join(', ') : 'none'}). ` +
        'Add it under "promotions" or use one of the known names.',
    );
    this.name = 'UnknownPromotionError';
  }
}

export function findPromotion(config: CoordinationConfig, name: string): Promotion {
  const found = config.promotions.find((p) => p.name === name);
  if (!found)
    throw new UnknownPromotionError(
      name,
      config.promotions.map((p) => p.name),
    );
  return found;
}

/**
 * The plan of a promotion at `at`. Octopus calls: one dynamic dashboard (the set's projects in the
 * source and target environments plus whatever the promotion's conditions need), then, unless a
 * guard already stops it, one deployment template per distinct release to deploy. Names are
 * resolved through the client's cached lists (three calls once per process).
 */
export async function readPromotionPlan(
  octopus: OctopusClient,
  config: CoordinationConfig,
  promotion: Promotion,
  at: Date,
  /**
   * Where trains are stored, for `"source": "train"` (and the zone its reasons show times in), and
   * the freeze check (the coordinator's and Octopus's freezes; absent: freezes are not read).
   */
  trainStore?: { tables: TableStore; timeZone: string; freezes?: FreezeCheck },
): Promise<PromotionPlan> {
  const set = Object.hasOwn(config.projectSets, promotion.set)
    ? config.projectSets[promotion.set]
    : undefined;
  if (!set)
    throw new Error(
      `Promotion "${promotion.name}" names project set "${promotion.set}", which is not in the coordination config.`,
    );
  const leaves = promotion.conditions.flatMap((c) =>
    expandCondition(c, config, { environment: promotion.to }),
  );
  const { needs, tenants } = leafNeeds(leaves);
  mergeNeeds(needs, {
    projects: new Set(set.projects),
    environments: new Set([promotion.from, promotion.to]),
  });
  (promotion.tenants ?? set.tenants ?? []).forEach((t) => tenants.add(t));
  const snapshot = await readSnapshot(octopus, needs, tenants);
  const trains =
    promotion.source === 'train'
      ? await promotionTrains(promotion, set, snapshot, trainStore)
      : undefined;
  const plan = planPromotion({
    ...(trains ? { trains } : {}),
    promotion,
    set,
    freezeWindows: config.freezeWindows,
    at,
    snapshot,
    conditions: judgeLeaves(leaves, snapshot),
  });
  if (plan.blockers.length > 0 || plan.deployCount === 0) return plan;
  const freezes = trainStore?.freezes;
  const frozen = freezes ? await applyFreezes(plan, snapshot, freezes) : plan;
  if (frozen.blockers.length > 0) return frozen;

  const releaseIds = new Set(
    plan.stages.flatMap((s) =>
      s.items.flatMap((i) => (i.action === 'deploy' && i.release ? [i.release.id] : [])),
    ),
  );
  const templates = new Map<string, ReleaseDeploymentTemplate>();
  await Promise.all(
    [...releaseIds].map(async (id) =>
      templates.set(id, await octopus.releases.deploymentTemplate(id)),
    ),
  );
  const environmentId = snapshot.environmentId(promotion.to);
  return applyLifecycle(frozen, (item) => {
    const template = item.release ? templates.get(item.release.id) : undefined;
    if (!template || !environmentId) return undefined;
    // The same rule the runs engine applies when it deploys (a tenant follows its own progression).
    const tenantId = item.tenant === null ? null : (snapshot.tenantId(item.tenant) ?? null);
    return lifecycleVerdict(template, environmentId, tenantId).allowed;
  });
}

/**
 * A freeze over the target stops the slot before anything is deployed: one blocker per freeze, naming
 * the projects it holds back and what happens when it lifts.
 */
async function applyFreezes(
  plan: PromotionPlan,
  snapshot: DeploymentSnapshot,
  freezes: FreezeCheck,
): Promise<PromotionPlan> {
  const held = new Map<string, { hit: FreezeHit; projects: string[] }>();
  const notes = new Set<string>();
  for (const stage of plan.stages) {
    for (const item of stage.items) {
      if (item.action !== 'deploy') continue;
      const projectId = snapshot.project(item.project)?.id;
      const environmentId = snapshot.environmentId(plan.to);
      if (projectId === undefined || environmentId === undefined) continue;
      const tenantId = item.tenant === null ? null : (snapshot.tenantId(item.tenant) ?? null);
      const verdict = await freezes({
        project: item.project,
        environment: plan.to,
        tenant: item.tenant,
        projectId,
        environmentId,
        tenantId,
      });
      verdict.notes.forEach((n) => notes.add(n));
      for (const hit of verdict.hits) {
        const entry = held.get(hit.id) ?? { hit, projects: [] };
        entry.projects.push(item.tenant ? `${item.project} for ${item.tenant}` : item.project);
        held.set(hit.id, entry);
      }
    }
  }
  const blockers = [...plan.blockers];
  for (const { hit, projects } of held.values()) {
    blockers.push(
      `${plan.to} is frozen (${describeHit(hit)}) for ${projects.join(', ')}; nothing is deployed while it lasts. This slot is not run later by itself: the next slot after the freeze ends runs as scheduled, or start the promotion as soon as it is lifted with POST /api/runs {"promotion": "${plan.promotion}"}`,
    );
  }
  return {
    ...plan,
    blockers,
    frozenBy: [...held.keys()],
    ...(notes.size > 0 ? { freezeNotes: [...notes] } : {}),
  };
}

/**
 * `"source": "train"`: the newest verified train of the set in `from`, per tenant of the promotion
 * (one train for an untenanted set); each train's releases by project × tenant. Two Table queries
 * per train place, no Octopus call (the snapshot has the ids).
 */
async function promotionTrains(
  promotion: Promotion,
  set: ProjectSet,
  snapshot: Awaited<ReturnType<typeof readSnapshot>>,
  trainStore: { tables: TableStore; timeZone: string } | undefined,
): Promise<PromotionTrains> {
  if (!trainStore)
    throw new Error(
      `Promotion "${promotion.name}" takes its releases from trains, which this caller cannot read.`,
    );
  const tenants = promotion.tenants ?? set.tenants ?? [];
  const places = tenants.length > 0 ? tenants : [null];
  const environmentId = snapshot.environmentId(promotion.from);
  const out: PromotionTrains = { choices: [], releases: new Map(), conflicts: [] };
  for (const tenant of places) {
    const tenantId = tenant === null ? null : (snapshot.tenantId(tenant) ?? null);
    if (!environmentId || (tenant !== null && !tenantId)) {
      out.choices.push({
        tenant,
        id: null,
        why: `no verified train: ${environmentId ? `tenant ${tenant ?? ''}` : `environment ${promotion.from}`} is not known to Octopus`,
      });
      continue;
    }
    const choice = await chooseVerifiedTrain(
      trainStore.tables,
      { set: promotion.set, environment: promotion.from, environmentId, tenant, tenantId },
      { soakMinutes: set.soakMinutes, timeZone: trainStore.timeZone },
    );
    if (!choice.ok) {
      out.choices.push({ tenant, id: null, why: choice.why });
      continue;
    }
    out.choices.push({ tenant, id: choice.train.id, why: choice.why });
    for (const m of choice.train.members) {
      const key = trainKey(m.project, m.tenant);
      const before = out.releases.get(key);
      if (before && before.releaseId !== m.releaseId) out.conflicts.push(m.project);
      out.releases.set(key, { releaseId: m.releaseId, version: m.version, train: choice.train.id });
    }
  }
  return out;
}
