// The coordination config: the one schema that is the source of truth (types, validation, JSON Schema).
import { z } from 'zod';
import { freezeWindow, octopusName } from './common.js';
import { condition, type ConditionRef } from './conditions.js';
import { checkApproval, playbook, trainIdPattern, type ReleaseSelector } from './playbooks.js';
import { promotion } from './promotions.js';
import { report } from './report.js';
import { rule, ruleChainDepth } from './rules.js';
import { projectSet } from './sets.js';
import { watch } from './watches.js';

const setName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'set names are letters, digits, _ . - (at most 64)');

const baseSchema = z.strictObject({
  $schema: z.string().optional(),
  /** The default Octopus space for every entry that names none (else OCTOPUS_SPACE). */
  space: octopusName.optional(),
  projectSets: z.record(setName, projectSet).default({}),
  watches: z.array(watch).default([]),
  promotions: z.array(promotion).default([]),
  playbooks: z.record(setName, playbook).default({}),
  conditions: z.record(setName, condition).default({}),
  rules: z.array(rule).default([]),
  /** The longest chain of rule-started runs (a rule firing on a rule-started run's deployment adds one). */
  ruleChainDepth,
  report: report.optional(),
  /** Freeze windows that apply to every promotion. */
  freezeWindows: z.array(freezeWindow).default([]),
});

export type CoordinationConfig = z.output<typeof baseSchema>;

type Path = (string | number)[];

/** Find a dependency cycle in a set's `dependsOn`, as the list of projects around it. */
export function findDependencyCycle(dependsOn: Record<string, string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'visiting') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'visiting');
    stack.push(node);
    for (const next of dependsOn[node] ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of Object.keys(dependsOn)) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

function checkReferences(config: CoordinationConfig, ctx: z.RefinementCtx): void {
  const problem = (path: Path, message: string) => ctx.addIssue({ code: 'custom', path, message });
  const sets = config.projectSets;
  const needSet = (name: string, path: Path) => {
    if (!(name in sets))
      problem(path, `names project set "${name}", which is not defined in projectSets`);
  };
  const checkConditionRef = (ref: ConditionRef, path: Path) => {
    if (typeof ref === 'string') {
      if (!(ref in config.conditions))
        problem(path, `names condition "${ref}", which is not defined in conditions`);
      return;
    }
    if (ref.type === 'setCurrent') needSet(ref.set, [...path, 'set']);
    if (ref.type === 'noActiveDeployment') {
      if (ref.set) needSet(ref.set, [...path, 'set']);
      if (!ref.set && !ref.project) problem(path, 'needs a project or a set');
    }
    if (ref.type === 'allOf')
      ref.conditions.forEach((c, i) => checkConditionRef(c, [...path, 'conditions', i]));
  };

  for (const [name, set] of Object.entries(sets)) {
    const members = new Set(set.projects);
    set.projects.forEach((p, i) => {
      if (set.projects.indexOf(p) !== i)
        problem(['projectSets', name, 'projects', i], `lists "${p}" twice`);
    });
    for (const [project, needs] of Object.entries(set.dependsOn)) {
      if (!members.has(project)) {
        problem(
          ['projectSets', name, 'dependsOn', project],
          `"${project}" is not one of the set's projects`,
        );
      }
      needs.forEach((n, i) => {
        if (!members.has(n))
          problem(
            ['projectSets', name, 'dependsOn', project, i],
            `"${n}" is not one of the set's projects`,
          );
      });
    }
    const cycle = findDependencyCycle(set.dependsOn);
    if (cycle)
      problem(['projectSets', name, 'dependsOn'], `has a dependency cycle: ${cycle.join(' -> ')}`);
  }

  const unique = (items: { name: string }[], section: string) => {
    const seen = new Set<string>();
    items.forEach((item, i) => {
      if (seen.has(item.name))
        problem([section, i, 'name'], `"${item.name}" is used by another entry`);
      seen.add(item.name);
    });
  };
  unique(config.watches, 'watches');
  unique(config.promotions, 'promotions');
  unique(config.rules, 'rules');

  config.watches.forEach((w, i) => needSet(w.set, ['watches', i, 'set']));
  config.promotions.forEach((p, i) => {
    needSet(p.set, ['promotions', i, 'set']);
    if (p.from === p.to) problem(['promotions', i, 'to'], 'must differ from `from`');
    p.conditions.forEach((c, j) => checkConditionRef(c, ['promotions', i, 'conditions', j]));
    if (p.approval)
      checkApproval(p.approval, (rest, message) =>
        problem(['promotions', i, 'approval', ...rest], message),
      );
  });
  for (const [name, c] of Object.entries(config.conditions))
    checkConditionRef(c, ['conditions', name]);
  const checkTrainRelease = (release: ReleaseSelector, project: string, path: Path) => {
    if (typeof release !== 'object' || !('train' in release)) return;
    const hasProject = (set: string) =>
      (sets[set]?.projects ?? []).some((p) => p.toLowerCase() === project.toLowerCase());
    if (release.train === 'latestVerified') {
      if (release.from === undefined)
        problem(
          [...path, 'from'],
          'latestVerified needs "from": the environment the train was verified in',
        );
      if (release.set !== undefined) {
        needSet(release.set, [...path, 'set']);
        if (release.set in sets && !hasProject(release.set))
          problem(
            [...path, 'set'],
            `project set "${release.set}" does not have project "${project}"`,
          );
        return;
      }
      const having = Object.keys(sets).filter(hasProject);
      if (having.length !== 1)
        problem(
          [...path, 'set'],
          having.length === 0
            ? `no project set has project "${project}"; name the train's set in "set"`
            : `project "${project}" is in several sets (${having.join(', ')}); name the train's set in "set"`,
        );
      return;
    }
    const set = trainIdPattern.exec(release.train)?.[1];
    if (set === undefined) {
      problem(
        [...path, 'train'],
        'must be a train id such as web-stack@0123456789abcdef (GET /api/trains lists them) or "latestVerified"',
      );
      return;
    }
    if (release.set !== undefined || release.from !== undefined)
      problem(
        path,
        '"set" and "from" go with "latestVerified" only: a train id names its set and environment',
      );
    needSet(set, [...path, 'train']);
    if (set in sets && !hasProject(set))
      problem(
        [...path, 'train'],
        `train ${release.train} is of set "${set}", which does not have project "${project}"`,
      );
  };
  for (const [name, pb] of Object.entries(config.playbooks)) {
    pb.onFailure.forEach((a, j) => {
      if (a.type === 'deploy')
        checkTrainRelease(a.release, a.project, ['playbooks', name, 'onFailure', j, 'release']);
    });
    const ids = new Set<string>();
    pb.stages.forEach((stage, s) =>
      stage.actions.forEach((a, j) => {
        const path: Path = ['playbooks', name, 'stages', s, 'actions', j];
        if (a.id) {
          if (ids.has(a.id))
            problem([...path, 'id'], `action id "${a.id}" is used twice in this playbook`);
          ids.add(a.id);
        }
        if (a.type === 'check') checkConditionRef(a.condition, [...path, 'condition']);
        if (a.type === 'deploy') checkTrainRelease(a.release, a.project, [...path, 'release']);
        if (a.type === 'approval') {
          checkApproval(a, (rest, message) => problem([...path, ...rest], message));
          if (stage.actions.length > 1)
            problem(
              path,
              'an approval must be the only action of its stage (it approves the stages after it); move the other actions to a stage of their own',
            );
        }
        if (a.type === 'wait') {
          if (a.condition) checkConditionRef(a.condition, [...path, 'condition']);
          const kinds = [a.minutes, a.until, a.condition].filter((v) => v !== undefined).length;
          if (kinds !== 1) problem(path, 'a wait needs exactly one of minutes, until or condition');
        }
      }),
    );
  }
  // Runs, promotions and ensure-deployed act in one space (top-level `space`, else OCTOPUS_SPACE);
  // watches, status and the report read any. Refuse a space that would silently be ignored.
  const oneSpace = (space: string | undefined, path: Path, what: string) => {
    if (space !== undefined && space !== config.space) {
      problem(
        path,
        `${what} in space "${space}" is not supported: runs and promotions act in the coordinator's one space (${config.space ? `"${config.space}"` : 'set the top-level "space"'}); remove this "space" or run a second coordinator for that space`,
      );
    }
  };
  for (const [name, pb] of Object.entries(config.playbooks))
    oneSpace(pb.space, ['playbooks', name, 'space'], 'a playbook');
  config.promotions.forEach((p, i) => {
    const set = sets[p.set];
    if (set) oneSpace(set.space, ['promotions', i, 'set'], `promoting set "${p.set}"`);
  });
  config.rules.forEach((r, i) => {
    if (!(r.start in config.playbooks))
      problem(
        ['rules', i, 'start'],
        `names playbook "${r.start}", which is not defined in playbooks`,
      );
  });
  config.report?.sets?.forEach((s, i) => needSet(s, ['report', 'sets', i]));
}

export const coordinationConfigSchema = baseSchema.superRefine(
  (config, ctx) => {
    // Runs even when some shapes are invalid, so one pass reports reference problems too; a section
    // too malformed to walk has its shape problems reported already.
    try {
      checkReferences(config, ctx);
    } catch {
      // skip: the shape errors describe what is wrong
    }
  },
  { when: () => true },
);

/** The schema without cross-reference checks, for JSON Schema generation. */
export const coordinationConfigShape = baseSchema;
