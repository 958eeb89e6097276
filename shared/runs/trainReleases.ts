// Deploy actions whose release comes from a release train (`{ "train": "<id>" | "latestVerified" }`):
// chosen once, when the run starts (and in its dry run), as the exact release of the train, so the run
// deploys what was verified together and nothing that arrived later.
import type { ReleaseSelector } from '../config/coordination/playbooks.js';
import type { Runtime } from '../runtime/runtime.js';
import { requireOctopus } from '../runtime/runtime.js';
import { setOfTrainId, type Train } from '../trains/model.js';
import { chooseVerifiedTrain } from '../trains/select.js';
import { TrainStore } from '../trains/store.js';
import { isChosenRelease, type ChosenRelease, type PlanDeploy, type RunPlan } from './types.js';

type TrainSelector = Extract<ReleaseSelector, { train: string }>;

function trainSelector(d: PlanDeploy): TrainSelector | undefined {
  const r = d.release;
  return typeof r === 'object' && !isChosenRelease(r) && 'train' in r ? r : undefined;
}

/** Does any deploy of the plan take its release from a train? */
export function usesTrains(plan: RunPlan): boolean {
  return [...plan.stages.flatMap((s) => s.actions), ...plan.onFailure].some(
    (a) => a.type === 'deploy' && trainSelector(a) !== undefined,
  );
}

export interface TrainProblem {
  actionId: string;
  message: string;
}

/** The set of a latestVerified selector: named, or the one configured set that has the project. */
function setOf(runtime: Runtime, selector: TrainSelector, project: string): string | undefined {
  if (selector.set) return selector.set;
  const sets = Object.entries(runtime.config.projectSets).filter(([, s]) =>
    s.projects.some((p) => p.toLowerCase() === project.toLowerCase()),
  );
  return sets.length === 1 ? sets[0]?.[0] : undefined;
}

/**
 * The plan with every train selector replaced by the exact release it means now, and what could not
 * be chosen (the selector then stays, and a real run must not start). Reads Table Storage, and
 * Octopus only to resolve names to ids (cached). A plan without trains is returned as it is.
 */
export async function resolvePlanTrains(
  runtime: Runtime,
  plan: RunPlan,
): Promise<{ plan: RunPlan; problems: TrainProblem[] }> {
  if (!usesTrains(plan)) return { plan, problems: [] };
  const octopus = requireOctopus(runtime);
  const store = new TrainStore(runtime.tables);
  const problems: TrainProblem[] = [];
  const trains = new Map<string, Promise<Train | undefined>>();
  const byId = (id: string): Promise<Train | undefined> => {
    let found = trains.get(id);
    if (!found) {
      const set = setOfTrainId(id);
      found = set ? store.get(set, id) : Promise.resolve(undefined);
      trains.set(id, found);
    }
    return found;
  };
  const resolve = async <A extends PlanDeploy | RunPlan['onFailure'][number]>(a: A): Promise<A> => {
    if (a.type !== 'deploy') return a;
    const selector = trainSelector(a);
    if (!selector) return a;
    const fail = (message: string): A => {
      problems.push({ actionId: a.id, message });
      return a;
    };
    let train: Train | undefined;
    let why: string;
    if (selector.train === 'latestVerified') {
      const set = setOf(runtime, selector, a.project);
      if (!set || !selector.from)
        return fail(`${a.project}: name the train's "set" and "from" environment`);
      const setConfig = runtime.config.projectSets[set];
      const tenanted = (setConfig?.tenants?.length ?? 0) > 0;
      if (tenanted && !a.tenant)
        return fail(
          `${a.project}: set ${set} is tenanted, so its trains are per tenant; deploy for a tenant (the action's "tenants" or the run's "tenant")`,
        );
      const tenant = tenanted ? a.tenant : null;
      const choice = await chooseVerifiedTrain(
        runtime.tables,
        {
          set,
          environment: selector.from,
          environmentId: await octopus.resolve.environmentId(selector.from),
          tenant,
          tenantId: tenant ? await octopus.resolve.tenantId(tenant) : null,
        },
        {
          soakMinutes: setConfig?.soakMinutes ?? 60,
          timeZone: runtime.settings.report.timeZone,
        },
      );
      if (!choice.ok) return fail(`${a.project}: ${choice.why}`);
      train = choice.train;
      why = choice.why;
    } else {
      train = await byId(selector.train);
      if (!train)
        return fail(
          `${a.project}: there is no train ${selector.train} (GET /api/trains lists the captured ones)`,
        );
      why = `train ${train.id} as the playbook says (${train.state === 'verified' ? `verified ${train.verifiedAt ?? ''}` : `not verified: ${train.state}`})`;
    }
    const projectId = await octopus.resolve.projectId(a.project);
    const member = train.members.find(
      (m) =>
        m.projectId === projectId &&
        (m.tenant === null ||
          (a.tenant !== null && m.tenant.toLowerCase() === a.tenant.toLowerCase())),
    );
    if (!member)
      return fail(
        `${a.project}${a.tenant ? ` for ${a.tenant}` : ''} is not in train ${train.id} (${train.members.map((m) => `${m.project}${m.tenant ? ` [${m.tenant}]` : ''}`).join(', ')})`,
      );
    const release: ChosenRelease = {
      releaseId: member.releaseId,
      version: member.version,
      why: `${member.version} of ${a.project} in ${why}`,
      train: train.id,
    };
    return { ...a, release };
  };
  const stages = await Promise.all(
    plan.stages.map(async (s) => ({
      ...s,
      actions: await Promise.all(s.actions.map((a) => (a.type === 'deploy' ? resolve(a) : a))),
    })),
  );
  const onFailure = await Promise.all(plan.onFailure.map((a) => resolve(a)));
  return { plan: { ...plan, stages, onFailure }, problems };
}
