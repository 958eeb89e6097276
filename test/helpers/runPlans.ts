// Run plans as the run engine's unit tests build them: deploys into Production and the web stack's
// playbook (Backend: Database and Web API; Frontend: Web App; onFailure redeploys the previous
// Database and Web API).
import type { PlanDeploy, RunPlan } from '../../shared/runs/types.js';

/** A deploy of the latest release of `project` into Production, if not current. */
export function planDeploy(
  id: string,
  project: string,
  extra: Partial<PlanDeploy> = {},
): PlanDeploy {
  return {
    type: 'deploy',
    id,
    project,
    environment: 'Production',
    tenant: null,
    release: 'latest',
    when: 'ifNotCurrent',
    allowDowngrade: false,
    rollback: false,
    ...extra,
  };
}

/** The web stack's playbook into Production; `extra` names it and sets its timeout and recipients. */
export function webStackRunPlan(
  extra: Partial<RunPlan> & Pick<RunPlan, 'name' | 'timeoutMinutes' | 'recipients'>,
): RunPlan {
  return {
    kind: 'playbook',
    environment: 'Production',
    stages: [
      { name: 'Backend', actions: [planDeploy('db', 'Database'), planDeploy('api', 'Web API')] },
      { name: 'Frontend', actions: [planDeploy('web', 'Web App')] },
    ],
    onFailure: [{ type: 'redeployPrevious', id: 'rollback', projects: ['Database', 'Web API'] }],
    onFailureWhenCancelled: true,
    ...extra,
  };
}
