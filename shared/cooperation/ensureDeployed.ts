// "Ensure project A is deployed here": already current, join what is deploying it, or start one run (never two).
import { checkCondition } from '../conditions/evaluate.js';
import { compareVersions } from '../versions.js';
import type { ConditionRef } from '../config/coordination/conditions.js';
import { CoordinatorError } from '../errors.js';
import { freezeChecker } from '../freezes/check.js';
import { describeFrozen } from '../freezes/model.js';
import { collect } from '../octopus/paging.js';
import { dashboardCell } from '../octopus/dashboard.js';
import type { OctopusClient } from '../octopus/client.js';
import type { Release } from '../octopus/releases.js';
import type { Log } from '../runtime/log.js';
import { requireOctopus, type Runtime } from '../runtime/runtime.js';
import { newRunId, startRun } from '../runs/advance.js';
import { lifecycleVerdict } from '../runs/lifecycle.js';
import { RunStore } from '../runs/store.js';
import { isTerminalRunStatus, type RunPlan, type RunState } from '../runs/types.js';
import { claimOnce, updateIfMatch } from '../storage/conditional.js';
import { encodeKey } from '../storage/keys.js';
import { resolveTarget, type Target } from '../octopus/target.js';

export interface EnsureRequest {
  project: string;
  environment: string;
  tenant?: string;
  /** An exact version; default the newest release the lifecycle lets into the environment. */
  release?: string;
  /** A condition (name or inline) that must hold in this environment before anything is deployed. */
  condition?: ConditionRef;
}

export type EnsureResult =
  | {
      status: 'current';
      project: string;
      environment: string;
      tenant: string | null;
      release: string;
      deploymentId: string;
      taskId: string;
    }
  | {
      status: 'deploying';
      /** True when this call started the run; false when it joined one another caller (or Octopus) started. */
      started: boolean;
      project: string;
      environment: string;
      tenant: string | null;
      release: string;
      runId?: string;
      deploymentId?: string;
      taskId?: string;
    };

export const ensureTable = 'ensure';
/** How many of the newest releases are checked against the lifecycle when no release is named. */
const releasesToConsider = 10;

interface EnsureRow {
  runId: string;
  releaseId: string;
  version: string;
  channelId?: string;
  project: string;
  environment: string;
  tenant: string;
  createdAt: string;
}

/** The newest release (by creation, as Octopus's own "latest") that the lifecycle allows into the environment now. */
async function latestAllowed(
  octopus: OctopusClient,
  t: Target,
  req: EnsureRequest,
): Promise<Release> {
  const releases = await collect(
    octopus.releases.listForProject(t.projectId, {
      maxItems: releasesToConsider,
      pageSize: releasesToConsider,
    }),
  );
  if (releases.length === 0)
    throw new CoordinatorError(
      'not_found',
      'no_release',
      `${req.project} has no releases. Create a release in Octopus first.`,
    );
  for (const release of releases) {
    const template = await octopus.releases.deploymentTemplate(release.Id);
    // The same rule the runs engine applies when it deploys (a tenant follows its own progression).
    if (lifecycleVerdict(template, t.environmentId, t.tenantId ?? null).allowed) return release;
  }
  throw new CoordinatorError(
    'conflict',
    'lifecycle',
    `None of the ${releases.length} newest releases of ${req.project} may be deployed to ${req.environment} yet: the lifecycle needs them in an earlier environment first. Promote one through the earlier phases, or name a release.`,
  );
}

function planFor(row: EnsureRow): RunPlan {
  return {
    kind: 'adhoc',
    name: `ensure-deployed ${row.project}`,
    description: `Ensure ${row.project} ${row.version} is deployed to ${row.environment}${row.tenant ? ` for ${row.tenant}` : ''}`,
    environment: row.environment,
    ...(row.tenant ? { tenant: row.tenant } : {}),
    stages: [
      {
        name: `Deploy ${row.project}`,
        actions: [
          {
            type: 'deploy',
            id: 'ensure',
            project: row.project,
            environment: row.environment,
            tenant: row.tenant || null,
            release: {
              releaseId: row.releaseId,
              version: row.version,
              why: 'asked for by ensure-deployed',
            },
            when: 'ifNotCurrent',
            allowDowngrade: false,
            rollback: false,
          },
        ],
      },
    ],
    onFailure: [],
    onFailureWhenCancelled: false,
    timeoutMinutes: 180,
    recipients: [],
  };
}

function deploymentOf(run: RunState): { deploymentId?: string; taskId?: string } {
  const action = run.stages[0]?.actions[0];
  return { deploymentId: action?.deploymentId, taskId: action?.taskId };
}

/**
 * One claim row per project/environment/tenant (by Octopus id) names the run deploying there. The
 * first caller creates it (create-if-absent) and starts the run; concurrent callers read the row and
 * join that run; the run id is fixed in the row, so even a caller that finds the row before the run
 * exists starts the same run (the engine creates a run id once).
 */
export async function ensureDeployed(
  runtime: Runtime,
  req: EnsureRequest,
  log: Log,
): Promise<EnsureResult> {
  const octopus = requireOctopus(runtime);
  const target = await resolveTarget(octopus, req);
  const { projectId, environmentId, tenantId } = target;
  const tenant = req.tenant ?? null;
  const base = { project: req.project, environment: req.environment, tenant };

  const wanted = req.release
    ? await octopus.releases.byVersion(projectId, req.release)
    : await latestAllowed(octopus, target, req);
  if (!wanted)
    throw new CoordinatorError(
      'not_found',
      'no_release',
      `${req.project} has no release ${req.release ?? ''}. Check the version in Octopus.`,
    );

  const dashboard = await octopus.dashboard.dynamic({
    projects: [projectId],
    environments: [environmentId],
    includePrevious: true,
  });
  const cell = dashboardCell(dashboard, target);
  if (cell.current?.ReleaseId === wanted.Id) {
    if (cell.current.State === 'Success') {
      return {
        status: 'current',
        ...base,
        release: wanted.Version,
        deploymentId: cell.current.DeploymentId,
        taskId: cell.current.TaskId,
      };
    }
  }
  const live = cell.lastSuccessful;
  if (
    live &&
    live.ReleaseId !== wanted.Id &&
    compareVersions(wanted.Version, live.ReleaseVersion) < 0
  ) {
    throw new CoordinatorError(
      'conflict',
      'downgrade',
      `${req.project} ${live.ReleaseVersion} is deployed to ${req.environment}${tenant ? ` for ${tenant}` : ''}, newer than the ${wanted.Version} asked for; ensure-deployed never downgrades. Ask for ${live.ReleaseVersion} or newer, or roll back in Octopus.`,
    );
  }

  if (req.condition !== undefined) {
    const check = await checkCondition(octopus, runtime.config, req.condition, {
      environment: req.environment,
      tenant: req.tenant,
    });
    if (!check.ok) {
      throw new CoordinatorError(
        'conflict',
        'condition_not_met',
        `${req.project} was not deployed: ${check.reasons.join('; ')}`,
        { reasons: check.reasons },
      );
    }
  }
  // A freeze stops a new deployment here (following one already queued or running is fine).
  const following =
    cell.current?.ReleaseId === wanted.Id &&
    (cell.current.State === 'Queued' || cell.current.State === 'Executing');
  if (!following) {
    const verdict = await freezeChecker({
      tables: runtime.tables,
      octopus,
      now: () => runtime.clock.now(),
    })({ ...target, project: req.project, environment: req.environment, tenant });
    if (verdict.hits.length > 0) {
      throw new CoordinatorError(
        'conflict',
        'frozen',
        `${req.project} ${wanted.Version} was not deployed: ${describeFrozen({ ...base }, verdict.hits)}. Call again when the freeze has ended or been lifted.`,
        { freezes: verdict.hits },
      );
    }
  }
  const table = await runtime.tables.table(ensureTable);
  const key = {
    partitionKey: encodeKey(`${projectId}/${environmentId}/${tenantId ?? ''}`),
    rowKey: 'current',
  };
  const row: EnsureRow = {
    runId: newRunId(
      runtime.clock.now(),
      `ensure/${key.partitionKey}/${wanted.Id}/${runtime.clock.now().getTime()}/${Math.random()}`,
    ),
    releaseId: wanted.Id,
    version: wanted.Version,
    ...(wanted.ChannelId ? { channelId: wanted.ChannelId } : {}),
    project: req.project,
    environment: req.environment,
    tenant: req.tenant ?? '',
    createdAt: runtime.clock.now().toISOString(),
  };
  // Start the run of a claim (the run id comes from the claim, so a second start is a no-op) and answer.
  const deploy = async (claim: typeof row, started: boolean) => {
    const { state } = await startRun(
      runtime,
      planFor(claim),
      { kind: 'api', by: `ensure-deployed ${req.project}` },
      { runId: claim.runId, log },
    );
    return {
      status: 'deploying' as const,
      started,
      ...base,
      release: claim.version,
      runId: state.id,
      ...deploymentOf(state),
    };
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    const claimed = await claimOnce(table, key, row);
    if (claimed.mine) return deploy(row, true);
    // The row went between the refused insert and the read (pruned): claim again.
    if (!claimed.holder) continue;
    const other = claimed.holder;
    const run = await new RunStore(runtime.tables).get(other.runId);
    const finished = run !== undefined && isTerminalRunStatus(run.state.status);
    if (!finished) {
      if (other.releaseId !== wanted.Id) {
        throw new CoordinatorError(
          'conflict',
          'busy',
          `A run (${other.runId}) is deploying ${req.project} ${other.version} to ${req.environment} now, not the ${wanted.Version} asked for. Call again when it has finished.`,
          { runId: other.runId },
        );
      }
      // Joined: the run may not be stored yet if its starter is between claim and start; start it (same id: once).
      if (!run) return deploy(other, false);
      return {
        status: 'deploying',
        started: false,
        ...base,
        release: other.version,
        runId: run.state.id,
        ...deploymentOf(run.state),
      };
    }
    // The recorded run has finished (and the wanted release is not current): replace the claim, ETag-checked.
    const replaced = await updateIfMatch(table, { ...key, ...row }, other.etag);
    if (replaced.ok) return deploy(row, true);
  }
  throw new CoordinatorError(
    'conflict',
    'busy',
    `${req.project} in ${req.environment} is being changed by several callers at once; call again in a few seconds.`,
  );
}
