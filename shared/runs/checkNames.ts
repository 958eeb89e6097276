// Before a run is stored (or a dry run read): every project, environment, tenant and runbook the plan
// names must exist in Octopus. A mistyped name is the caller's 400, listing the known names, and
// nothing is created or emailed; never a run that fails at its first deploy.
import { CoordinatorError } from '../errors.js';
import { collect } from '../octopus/paging.js';
import { OctopusError } from '../octopus/errors.js';
import type { OctopusClient } from '../octopus/client.js';
import type { RunPlan } from './types.js';

type Kind = 'project' | 'environment' | 'tenant';

/** The names a plan uses, by kind, and its runbooks by project. */
function namesOf(plan: RunPlan): {
  names: Map<Kind, Set<string>>;
  runbooks: Map<string, Set<string>>;
} {
  const names = new Map<Kind, Set<string>>([
    ['project', new Set()],
    ['environment', new Set()],
    ['tenant', new Set()],
  ]);
  const add = (kind: Kind, name: string | null | undefined) => {
    if (name) names.get(kind)?.add(name);
  };
  const runbooks = new Map<string, Set<string>>();
  add('environment', plan.environment);
  add('tenant', plan.tenant);
  for (const a of [...plan.stages.flatMap((s) => s.actions), ...plan.onFailure]) {
    if (a.type === 'deploy' || a.type === 'runbook') {
      add('project', a.project);
      add('environment', a.environment);
      add('tenant', a.tenant);
    }
    if (a.type === 'runbook') {
      const set = runbooks.get(a.project) ?? new Set<string>();
      set.add(a.runbook);
      runbooks.set(a.project, set);
    }
    if (a.type === 'redeployPrevious') {
      a.projects.forEach((p) => add('project', p));
      add('environment', a.environment);
    }
  }
  return { names, runbooks };
}

/** Throws CoordinatorError invalid/unknown_name naming every unknown name (with the known ones). */
export async function checkPlanNames(octopus: OctopusClient, plan: RunPlan): Promise<void> {
  const { names, runbooks } = namesOf(plan);
  const problems: string[] = [];
  const projectIds = new Map<string, string>();
  await Promise.all(
    [...names].flatMap(([kind, set]) =>
      [...set].map(async (name) => {
        try {
          const found = await octopus.resolve.resolve(kind, name);
          if (kind === 'project') projectIds.set(name, found.Id);
        } catch (err) {
          if (err instanceof OctopusError && err.code === 'NameNotFound')
            problems.push(err.message);
          else throw err;
        }
      }),
    ),
  );
  await Promise.all(
    [...runbooks].map(async ([project, wanted]) => {
      const projectId = projectIds.get(project);
      if (!projectId) return;
      const have = (await collect(octopus.runbooks.listForProject(projectId))).map((r) => r.Name);
      for (const name of wanted) {
        if (!have.some((h) => h.toLowerCase() === name.toLowerCase()))
          problems.push(
            `Runbook '${name}' was not found in project '${project}' (known: ${have.join(', ') || 'none'}).`,
          );
      }
    }),
  );
  if (problems.length > 0)
    throw new CoordinatorError('invalid', 'unknown_name', problems.sort().join(' '), { problems });
}
