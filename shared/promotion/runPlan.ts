// A promotion plan as a run of the runs engine: one stage per dependency level, exact releases, optional rollback.
import type { Promotion } from '../config/coordination/promotions.js';
import type { PlanDeploy, PlanFailureAction, PlanStage, RunPlan } from '../runs/types.js';
import type { PromotionPlan } from './plan.js';
import { defaultGroupTemplate, renderGroup } from '../runs/groups.js';

/** Action ids go into Octopus Comments markers: letters, digits, _ . - and @ only. */
export function actionIdFor(project: string, tenant: string | null): string {
  const part = (s: string) => s.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, '') || 'x';
  return tenant ? `${part(project)}@${part(tenant)}` : part(project);
}

/** The run id of a scheduled slot: the same slot always gives the same id, so the engine creates it once. */
export function promotionRunId(promotion: string, slot: string): string {
  const name = promotion.replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 60);
  return `promotion.${name}.${slot.replace(/[^0-9TZ]/g, '')}`;
}

/** How long a whole promotion may take before the engine gives up on it. */
export const promotionTimeoutMinutes = 240;

export function promotionRunPlan(plan: PromotionPlan, promotion: Promotion): RunPlan {
  const stages: PlanStage[] = [];
  for (const stage of plan.stages) {
    const actions = stage.items.flatMap((item): PlanDeploy[] =>
      item.action === 'deploy' && item.release
        ? [
            {
              type: 'deploy',
              id: actionIdFor(item.project, item.tenant),
              project: item.project,
              environment: plan.to,
              tenant: item.tenant,
              release: {
                releaseId: item.release.id,
                version: item.release.version,
                why: item.reason,
                ...(item.release.train ? { train: item.release.train } : {}),
              },
              // The plan checked "not current" and "not older"; the engine checks again when it deploys.
              when: 'ifNotCurrent',
              allowDowngrade: false,
              rollback: false,
            },
          ]
        : [],
    );
    if (actions.length > 0) stages.push({ name: stage.name, actions });
  }
  if (promotion.approval && stages.length > 0) {
    // People approve exactly these releases before anything is deployed (see runs/approval.ts).
    stages.unshift({
      name: 'Approval',
      actions: [
        {
          type: 'approval',
          id: 'approval',
          approvers: promotion.approval.approvers,
          minApprovals: promotion.approval.minApprovals,
          timeoutMinutes: promotion.approval.timeoutMinutes,
        },
      ],
    });
  }
  const promoted = [
    ...new Set(stages.flatMap((s) => s.actions.map((a) => (a.type === 'deploy' ? a.project : '')))),
  ].filter(Boolean);
  const onFailure: PlanFailureAction[] =
    promotion.rollbackOnFailure && promoted.length > 0
      ? [{ type: 'redeployPrevious', id: 'rollback', projects: promoted, environment: plan.to }]
      : [];
  return {
    kind: 'promotion',
    name: promotion.name,
    description: plan.trains
      ? `Promote train${plan.trains.length > 1 ? 's' : ''} ${plan.trains.map((t) => t.id ?? '?').join(', ')} of set ${plan.set} from ${plan.from} to ${plan.to}`
      : `Promote set ${plan.set} from ${plan.from} to ${plan.to}`,
    environment: plan.to,
    stages,
    onFailure,
    onFailureWhenCancelled: true,
    rollbackOrder: promotion.rollbackOrder,
    onFreeze: promotion.onFreeze,
    concurrency: {
      group: renderGroup(
        promotion.concurrency.group ??
          defaultGroupTemplate({ kind: 'promotion', name: promotion.name }),
        { environment: plan.to },
      ),
      policy: promotion.concurrency.policy,
    },
    timeoutMinutes: promotionTimeoutMinutes,
    recipients: promotion.recipients ?? [],
  };
}
