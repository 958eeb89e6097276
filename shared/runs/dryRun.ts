// A dry run: the plan with the exact releases each deploy would use and why, read from Octopus, deploying nothing.
import type { FreezeCheck } from '../freezes/model.js';
import type { OctopusClient } from '../octopus/client.js';
import { deployDecision } from './deployDecision.js';
import { capturePrevious, resolveDeploy } from './executor.js';
import { releaseTemplates, type ReleaseTemplates } from './lifecycle.js';
import { cellsToCapture } from './plan.js';
import {
  isChosenRelease,
  type CapturedCell,
  type DeployDecision,
  type DeployResolution,
  type PlanAction,
  type PlanDeploy,
  type PlanFailureAction,
  type PlanRunbook,
  type RunPlan,
} from './types.js';

export interface DryRunAction {
  id: string;
  type: string;
  project?: string;
  environment?: string;
  tenant?: string | null;
  /** For deploys: the exact release. */
  release?: { version: string; releaseId: string; why: string };
  /** For deploys whose release comes from a release train: the train's id. */
  train?: string;
  current?: { version: string; state: string };
  /** deploy | join | skip | refuse | frozen (deploys); otherwise what the action would do. */
  outcome: string;
  why: string;
}

export interface DryRunPlan {
  dryRun: true;
  kind: RunPlan['kind'];
  name: string;
  environment?: string;
  tenant?: string;
  /** True when some deploy would be refused (a downgrade, or Octopus's lifecycle) or could not be resolved: the run would fail. */
  wouldFail: boolean;
  stages: { name: string; actions: DryRunAction[] }[];
  onFailure: DryRunAction[];
  previous: { project: string; environment: string; tenant: string | null; version?: string }[];
  /** True when a freeze holds a deploy back now: the run would wait (or fail, with onFreeze "fail"). */
  frozen: boolean;
  /** What the freeze check could not see (an Octopus server without the freezes API, …). */
  freezeNotes: string[];
  note: string;
}

/** What a dry-run line says about an action that has a project, environment and tenant. */
function targetOf(a: PlanDeploy | PlanRunbook): Omit<DryRunAction, 'outcome' | 'why'> {
  return {
    id: a.id,
    type: a.type,
    project: a.project,
    environment: a.environment,
    tenant: a.tenant,
  };
}

function describeOther(a: PlanAction | PlanFailureAction): DryRunAction {
  switch (a.type) {
    case 'notify':
      return {
        id: a.id,
        type: a.type,
        outcome: 'email',
        why: `would email ${a.to.join(', ')}: "${a.subject}"`,
      };
    case 'webhook':
      return {
        id: a.id,
        type: a.type,
        outcome: 'call',
        why: `would call ${a.method} ${new URL(a.url).host}`,
      };
    case 'wait':
      return {
        id: a.id,
        type: a.type,
        outcome: 'wait',
        why: a.minutes
          ? `would wait ${a.minutes} minutes`
          : a.until
            ? `would wait until ${a.until}`
            : 'would wait until its condition holds',
      };
    case 'check':
      return { id: a.id, type: a.type, outcome: 'check', why: `checked when its stage starts` };
    case 'approval':
      return {
        id: a.id,
        type: a.type,
        outcome: 'approval',
        why: `would email ${a.approvers.join(', ')} the exact releases of the stages after it and wait up to ${a.timeoutMinutes} minutes for ${a.minApprovals} approval(s); those releases are then deployed even if newer ones appear, and a changed plan is asked about again`,
      };
    case 'runbook':
      return {
        ...targetOf(a),
        outcome: 'run',
        why: `would run runbook ${a.runbook}`,
      };
    case 'redeployPrevious':
      return {
        id: a.id,
        type: a.type,
        outcome: 'rollback',
        why: `on failure, would put back the releases of ${a.projects.join(', ')} captured at the start (see previous)`,
      };
    case 'deploy':
      return {
        ...targetOf(a),
        outcome: 'deploy',
        why: 'on failure',
      };
  }
}

/** Where earlier stages of the dry run deploy each release (release id -> environment names). */
type EarlierDeploys = Map<string, string[]>;

/**
 * The decision, except that a lifecycle refusal is not claimed for a release an earlier stage
 * deploys first: that deployment may be what lets it in, and Octopus says so only when this stage starts.
 */
function dryDecision(a: PlanDeploy, r: DeployResolution, earlier: EarlierDeploys): DeployDecision {
  const decision = deployDecision(a, r);
  const first = earlier.get(r.release.releaseId);
  if (decision.kind !== 'refuse' || !r.lifecycle || r.lifecycle.allowed || !first) return decision;
  const without = deployDecision(a, { ...r, lifecycle: undefined });
  const allowed = r.lifecycle.allowedEnvironments.join(', ') || 'none';
  return {
    ...without,
    why: `${without.why}; Octopus's lifecycle does not allow it into ${a.environment} yet (allowed: ${allowed}), but an earlier stage deploys it to ${first.join(', ')} first, so Octopus decides when this stage starts`,
  };
}

async function dryDeploy(
  octopus: OctopusClient,
  a: PlanAction,
  templates: ReleaseTemplates,
  earlier: EarlierDeploys,
  trainProblems: ReadonlyMap<string, string>,
  freezes: FreezeCheck | undefined,
  freezeNotes: Set<string>,
): Promise<DryRunAction> {
  if (a.type !== 'deploy') return describeOther(a);
  const base = targetOf(a);
  const noTrain = trainProblems.get(a.id);
  if (noTrain !== undefined) return { ...base, outcome: 'refuse', why: noTrain };
  const train = isChosenRelease(a.release) ? a.release.train : undefined;
  if (train !== undefined) Object.assign(base, { train });
  try {
    const r = await resolveDeploy(octopus, a, { templates, freezes });
    for (const n of r.freeze?.notes ?? []) freezeNotes.add(n);
    const d = dryDecision(a, r, earlier);
    return {
      ...base,
      release: { ...r.release, why: r.why },
      current: r.current ? { version: r.current.version, state: r.current.state } : undefined,
      outcome: d.kind,
      why: d.why,
    };
  } catch (err) {
    return { ...base, outcome: 'error', why: err instanceof Error ? err.message : String(err) };
  }
}

/** The plan as it would run now. Reads Octopus only; creates nothing, stores nothing. */
export async function dryRunPlan(
  octopus: OctopusClient,
  plan: RunPlan,
  /** Deploys whose release train could not be chosen (resolvePlanTrains), by action id. */
  trainProblems: readonly { actionId: string; message: string }[] = [],
  options: { freezes?: FreezeCheck } = {},
): Promise<DryRunPlan> {
  const noTrain = new Map(trainProblems.map((p) => [p.actionId, p.message]));
  const freezeNotes = new Set<string>();
  // The whole dry run reads as of one moment, so each release's template is read once.
  const templates = releaseTemplates((id) => octopus.releases.deploymentTemplate(id));
  const earlier: EarlierDeploys = new Map();
  const stages = [];
  for (const stage of plan.stages) {
    const actions = await Promise.all(
      stage.actions.map((a) =>
        dryDeploy(octopus, a, templates, earlier, noTrain, options.freezes, freezeNotes),
      ),
    );
    for (const a of actions)
      if (a.release && a.environment && (a.outcome === 'deploy' || a.outcome === 'join'))
        earlier.set(a.release.releaseId, [
          ...(earlier.get(a.release.releaseId) ?? []),
          a.environment,
        ]);
    stages.push({ name: stage.name, actions });
  }
  const captured = await capturePrevious(octopus, cellsToCapture(plan));
  const cells: CapturedCell[] = captured.kind === 'previousCaptured' ? captured.cells : [];
  const all = stages.flatMap((s) => s.actions);
  return {
    dryRun: true,
    kind: plan.kind,
    name: plan.name,
    environment: plan.environment,
    tenant: plan.tenant,
    wouldFail: all.some(
      (a) =>
        a.outcome === 'refuse' ||
        a.outcome === 'error' ||
        (a.outcome === 'frozen' && plan.onFreeze === 'fail'),
    ),
    stages,
    onFailure: plan.onFailure.map(describeOther),
    previous: cells.map((c) => ({
      project: c.project,
      environment: c.environment,
      tenant: c.tenant,
      version: c.lastSuccessful?.version,
    })),
    frozen: all.some((a) => a.outcome === 'frozen'),
    freezeNotes: [...freezeNotes],
    note: 'Releases are chosen as of now; a later stage that takes its release from an environment an earlier stage changes may choose differently when it runs.',
  };
}
