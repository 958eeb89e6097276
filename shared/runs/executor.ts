// Performs the commands decide() asks for (Octopus, mail, outbound webhooks) and reports what happened as observations.
import { checkCondition } from '../conditions/evaluate.js';
import { compareVersions, satisfiesRange } from '../versions.js';
import type { CoordinationConfig } from '../config/coordination/schema.js';
import { redactSecrets, secretSettingNames } from '../config/settings.js';
import { MailError, type Mailer } from '../mail/mailer.js';
import { collect } from '../octopus/paging.js';
import { dashboardCell } from '../octopus/dashboard.js';
import { taskPageUrl } from '../octopus/links.js';
import { OctopusError } from '../octopus/errors.js';
import type { OctopusClient } from '../octopus/client.js';
import type { Release } from '../octopus/releases.js';
import { priorityDeploymentsSince, versionAtLeast } from '../octopus/serverVersion.js';
import type { ServerTask } from '../octopus/tasks.js';
import type { FreezeCheck } from '../freezes/model.js';
import { isLockError } from '../locks/errors.js';
import type { LeaseLocks } from '../locks/leaseLock.js';
import { resolveTarget } from '../octopus/target.js';
import type { Log } from '../runtime/log.js';
import { groupTtlSeconds, leaveOrGiveBack, nextInLine, runIds } from './concurrency.js';
import { deployDecision } from './deployDecision.js';
import { lifecycleVerdict, releaseTemplates, type ReleaseTemplates } from './lifecycle.js';
import { notifyMail, runFinishedMail, type RunMailContext } from './mail.js';
import { approvalFingerprint } from './approval.js';
import { approvalRequestMail } from './approvalMail.js';
import { approvalPageUrl, newTokenId, signApprovalToken } from './approvalToken.js';
import { fillJson, fillText } from './placeholders.js';
import { supersedingOf } from './superseded.js';
import { runApiUrl } from '../html/publicLinks.js';
import { appVersion } from '../version.js';
import { allActions } from './stepContext.js';
import { deployClaimLock } from './claims.js';
import {
  irreversibleCommands,
  isChosenRelease,
  type Command,
  type ApprovalItem,
  type ApprovalTarget,
  type DeployResolution,
  type Observation,
  type PlanDeploy,
  type PlanRunbook,
  type PlanWebhook,
  type RunState,
} from './types.js';

export interface ExecutorPorts {
  octopus: OctopusClient;
  mailer: Mailer;
  config: CoordinationConfig;
  log: Log;
  /** App settings for %NAME% references in webhook headers. */
  env: NodeJS.ProcessEnv;
  /** The zone emails show times in and PUBLIC_URL, for links to the run. */
  mail: RunMailContext;
  /**
   * Asked just before each irreversible call: false when this instance's lock on the run is gone or
   * cannot be confirmed (the run lock's `assertHeld()`); then the call is not made.
   */
  mayAct: () => Promise<boolean>;
  /**
   * Approval links: the key that signs them (none: approvers decide through the API) and the app's
   * address they point at (PUBLIC_URL, else this host's own port).
   */
  approval: { key: string | undefined; baseUrl: string };
  /** The lock service of deploy claims (shared/locks, see concurrency.ts). */
  claims: LeaseLocks;
  /** Called after an irreversible call returned, before its result is recorded (tests use it to crash there). */
  afterIrreversible?: (command: Command, observation: Observation) => void | Promise<void>;
  /**
   * A fresh freeze check (each call reads the freezes again). Absent: freezes are not checked (unit
   * tests without storage).
   */
  freezes?: () => FreezeCheck;
  /** Called just before the last freeze check ahead of a create (tests set a freeze there: the race). */
  beforeFreezeCheck?: (command: Command) => void | Promise<void>;
}

/** The values of the coordinator's own credentials, redacted from every failure a run records. */
function ownSecretValues(env: NodeJS.ProcessEnv): string[] {
  return secretSettingNames
    .map((name) => env[name]?.trim())
    .filter((v): v is string => v !== undefined && v !== '');
}

/** A failure a later attempt can fix. */
function isRetryable(err: unknown): boolean {
  if (isLockError(err)) return true;
  if (err instanceof OctopusError) return err.retryable || err.code === 'CreateUnconfirmed';
  if (err instanceof MailError) return err.retryable;
  return false;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A problem in the plan or the config that no retry fixes. */
class PlanProblem extends Error {}

/** The Octopus web address of a task, for people. */
export function taskWebLink(
  octopus: OctopusClient,
  task: Pick<ServerTask, 'Id' | 'Links'>,
  spaceId: string,
): string {
  const web = task.Links?.Web;
  return taskPageUrl(octopus.url, spaceId, task.Id, typeof web === 'string' ? web : undefined);
}

/** The current state of these tasks as observations (one call per 100 tasks). */
export async function observeTasks(
  octopus: OctopusClient,
  taskIds: readonly string[],
): Promise<Observation[]> {
  if (taskIds.length === 0) return [];
  const [tasks, spaceId] = await Promise.all([octopus.tasks.getMany(taskIds), octopus.spaceId()]);
  return Promise.all(
    tasks.map(async (t): Promise<Observation> => {
      const superseded = t.State === 'Canceled' ? await supersedingOf(octopus, t) : undefined;
      return {
        kind: 'task',
        taskId: t.Id,
        state: t.State,
        errorMessage: t.ErrorMessage || undefined,
        hasPendingInterruptions: t.HasPendingInterruptions,
        ...(t.PendingInterruptionTypes?.length
          ? { pendingInterruptionTypes: t.PendingInterruptionTypes }
          : {}),
        link: taskWebLink(octopus, t, spaceId),
        ...(superseded ? { superseded } : {}),
      };
    }),
  );
}

async function chooseRelease(
  octopus: OctopusClient,
  spec: PlanDeploy,
  projectId: string,
  tenantId: string | null,
): Promise<{ release: Release; why: string }> {
  const selector = spec.release;
  if (isChosenRelease(selector)) {
    return { release: await octopus.releases.get(selector.releaseId), why: selector.why };
  }
  if (selector === 'latest') {
    const release = await octopus.releases.latest(projectId);
    if (!release)
      throw new PlanProblem(`${spec.project} has no releases yet: create one in Octopus first.`);
    return { release, why: `the newest release of ${spec.project}` };
  }
  if ('version' in selector) {
    const release = await octopus.releases.byVersion(projectId, selector.version);
    if (!release)
      throw new PlanProblem(
        `${spec.project} has no release ${selector.version}: check the version in the playbook.`,
      );
    return { release, why: `version ${selector.version} as the playbook says` };
  }
  if ('range' in selector) {
    let matching: Release[];
    try {
      const recent = await collect(octopus.releases.listForProject(projectId, { maxItems: 200 }));
      matching = recent.filter((r) => satisfiesRange(r.Version, selector.range));
    } catch (err) {
      if (err instanceof OctopusError) throw err;
      throw new PlanProblem(
        `The release range "${selector.range}" of ${spec.project} is not valid: ${messageOf(err)}`,
      );
    }
    const best = matching.sort((a, b) => compareVersions(b.Version, a.Version))[0];
    if (!best)
      throw new PlanProblem(
        `None of the 200 newest releases of ${spec.project} is in the range ${selector.range}.`,
      );
    return { release: best, why: `the highest release of ${spec.project} in ${selector.range}` };
  }
  if ('train' in selector) {
    // Trains live in Table Storage: the run resolves them to exact releases when it starts (trainReleases.ts).
    throw new PlanProblem(
      `The release of ${spec.project} comes from a release train ("${selector.train}"), which is chosen when the run starts; this run was stored without that choice.`,
    );
  }
  const sourceId = await octopus.resolve.environmentId(selector.latestSuccessfulIn);
  const dashboard = await octopus.dashboard.dynamic({
    projects: [projectId],
    environments: [sourceId],
    includePrevious: true,
  });
  const cell = dashboardCell(dashboard, { projectId, environmentId: sourceId, tenantId });
  if (!cell.lastSuccessful) {
    throw new PlanProblem(
      `${spec.project} has no successful deployment in ${selector.latestSuccessfulIn} to take the release from.`,
    );
  }
  return {
    release: await octopus.releases.get(cell.lastSuccessful.ReleaseId),
    why: `the release current and successful in ${selector.latestSuccessfulIn}`,
  };
}

export interface ResolveDeployOptions {
  /** Shared by the deploys of one run step (or one dry run), so each release's template is read once. */
  templates?: ReleaseTemplates;
  /** The freezes to check when the deploy would go ahead (absent: not checked). */
  freezes?: FreezeCheck;
}

/**
 * Read everything a deploy action's decision needs: ids, the release, what is current there, and,
 * when it would deploy, whether Octopus's lifecycle lets the release in (one template read). Read-only.
 */
export async function resolveDeploy(
  octopus: OctopusClient,
  spec: PlanDeploy,
  options: ResolveDeployOptions = {},
): Promise<DeployResolution> {
  const { projectId, environmentId, tenantId } = await resolveTarget(octopus, spec);
  const { release, why } = await chooseRelease(octopus, spec, projectId, tenantId);
  const dashboard = await octopus.dashboard.dynamic({
    projects: [projectId],
    environments: [environmentId],
    includePrevious: true,
  });
  const cell = dashboardCell(dashboard, { projectId, environmentId, tenantId });
  const resolution: DeployResolution = {
    projectId,
    environmentId,
    tenantId,
    channelId: release.ChannelId,
    release: { releaseId: release.Id, version: release.Version },
    why,
    current: cell.current
      ? {
          releaseId: cell.current.ReleaseId,
          version: cell.current.ReleaseVersion,
          state: cell.current.State,
          deploymentId: cell.current.DeploymentId,
          taskId: cell.current.TaskId,
        }
      : undefined,
    lastSuccessful: cell.lastSuccessful
      ? { releaseId: cell.lastSuccessful.ReleaseId, version: cell.lastSuccessful.ReleaseVersion }
      : undefined,
  };
  // Only a deploy that would go ahead needs the lifecycle's word: a join, skip or downgrade refusal does not.
  if (deployDecision(spec, resolution).kind !== 'deploy') return resolution;
  const templates =
    options.templates ?? releaseTemplates((id) => octopus.releases.deploymentTemplate(id));
  const template = await templates(release.Id);
  const withLifecycle: DeployResolution = {
    ...resolution,
    lifecycle: lifecycleVerdict(template, environmentId, tenantId),
  };
  if (!options.freezes || deployDecision(spec, withLifecycle).kind !== 'deploy')
    return withLifecycle;
  const verdict = await options.freezes({
    project: spec.project,
    environment: spec.environment,
    tenant: spec.tenant,
    projectId,
    environmentId,
    tenantId,
  });
  return verdict.hits.length > 0 || verdict.notes.length > 0
    ? { ...withLifecycle, freeze: verdict }
    : withLifecycle;
}

/**
 * The exact release each deploy an approval covers would deploy, as the deploy itself would choose it
 * now (read-only; no lifecycle read: the deploy checks that when it runs).
 */
export async function approvalItems(
  octopus: OctopusClient,
  deploys: readonly ApprovalTarget[],
): Promise<ApprovalItem[]> {
  return Promise.all(
    deploys.map(async ({ stage, spec }) => {
      const { projectId, tenantId } = await resolveTarget(octopus, spec);
      const { release, why } = await chooseRelease(octopus, spec, projectId, tenantId);
      const train = trainOf(spec);
      return {
        ...(train ? { train } : {}),
        stage,
        actionId: spec.id,
        project: spec.project,
        environment: spec.environment,
        tenant: spec.tenant,
        releaseId: release.Id,
        version: release.Version,
        why,
      };
    }),
  );
}

/** The release train a deploy takes its release from, when its release names one. */
function trainOf(spec: PlanDeploy): string | undefined {
  const release: unknown = spec.release;
  if (typeof release !== 'object' || release === null || !('train' in release)) return undefined;
  const train = release.train;
  return typeof train === 'string' && train !== 'latestVerified' ? train : undefined;
}

/** Email one approver the plan and a link only they can use (signed, once, until the deadline). */
async function sendApprovalMail(
  run: RunState,
  command: Extract<Command, { kind: 'sendApprovalMail' }>,
  ports: ExecutorPorts,
): Promise<Observation> {
  const action = run.stages.flatMap((s) => s.actions).find((a) => a.id === command.actionId);
  const round = action?.approval?.rounds.find((r) => r.n === command.round);
  if (!action || action.spec.type !== 'approval' || !round)
    throw new PlanProblem(`approval ${command.actionId} round ${command.round} is not in the run`);
  const key = ports.approval.key;
  const link = key
    ? approvalPageUrl(
        ports.approval.baseUrl,
        signApprovalToken(
          {
            run: run.id,
            action: action.id,
            round: round.n,
            by: command.to,
            fp: command.fingerprint,
            exp: Date.parse(command.expiresAt),
            id: newTokenId(),
          },
          key,
        ),
      )
    : undefined;
  const mail = approvalRequestMail(
    { run, spec: action.spec, round, to: command.to, link, apiBase: ports.approval.baseUrl },
    ports.mail,
  );
  await ports.mailer.send({ to: [command.to], ...mail, category: 'run-approval' });
  return { kind: 'approvalMailSent', actionId: action.id, round: round.n, to: command.to };
}

/** Read the releases current (and last successful) in each cell, in one dashboard call. Read-only. */
export async function capturePrevious(
  octopus: OctopusClient,
  cells: Extract<Command, { kind: 'capturePrevious' }>['cells'],
): Promise<Observation> {
  if (cells.length === 0) return { kind: 'previousCaptured', cells: [] };
  const resolved = await Promise.all(
    cells.map(async (c) => ({ cell: c, ...(await resolveTarget(octopus, c)) })),
  );
  const dashboard = await octopus.dashboard.dynamic({
    projects: [...new Set(resolved.map((r) => r.projectId))],
    environments: [...new Set(resolved.map((r) => r.environmentId))],
    includePrevious: true,
  });
  return {
    kind: 'previousCaptured',
    cells: resolved.map(({ cell, projectId, environmentId, tenantId }) => {
      const found = dashboardCell(dashboard, { projectId, environmentId, tenantId });
      return {
        ...cell,
        projectId,
        environmentId,
        tenantId,
        current: found.current
          ? {
              releaseId: found.current.ReleaseId,
              version: found.current.ReleaseVersion,
              state: found.current.State,
            }
          : undefined,
        lastSuccessful: found.lastSuccessful
          ? {
              releaseId: found.lastSuccessful.ReleaseId,
              version: found.lastSuccessful.ReleaseVersion,
            }
          : undefined,
      };
    }),
  };
}

export { deployClaimLock };
const claimRequestId = (runId: string, actionId: string): string => `${runId}/${actionId}`;
/** While another run's deployment of the same release is being created, look again this often, this many times. */
const joinLookMs = 250;
const joinLooks = 20;

/**
 * Claim a deploy's target (or a place in the claim's queue), then read the target again: under the
 * claim, what another run did meanwhile is seen; without it, a deployment of the same release that
 * the holder is creating now is waited for briefly, so that this run joins it instead of queueing.
 */
async function claimDeploy(
  run: RunState,
  command: Extract<Command, { kind: 'claimDeploy' }>,
  ports: ExecutorPorts,
): Promise<Observation> {
  const lock = deployClaimLock(command.resolution);
  const release = command.resolution.release;
  const result = await ports.claims.acquire(lock, {
    holder: `run ${run.id} action ${command.actionId} release ${release.releaseId}`,
    requestId: claimRequestId(run.id, command.actionId),
    ttlSeconds: groupTtlSeconds,
    queue: true,
  });
  // Freezes are not read here: the last check, right before the create, reads them fresh.
  let fresh = await resolveDeploy(ports.octopus, command.spec);
  if (result.granted)
    return {
      kind: 'deployClaimed',
      actionId: command.actionId,
      lock,
      leaseId: result.leaseId,
      resolution: fresh,
    };
  const sameRelease = result.heldBy.some((h) => h.endsWith(` release ${release.releaseId}`));
  for (let look = 0; sameRelease && look < joinLooks; look++) {
    if (deployDecision(command.spec, fresh).kind !== 'deploy') break;
    await new Promise((r) => setTimeout(r, joinLookMs));
    fresh = await resolveDeploy(ports.octopus, command.spec);
  }
  return {
    kind: 'deployClaimWaiting',
    actionId: command.actionId,
    lock,
    position: result.position,
    waitingFor: runIds(result.heldBy),
    resolution: fresh,
  };
}

async function runRunbook(
  octopus: OctopusClient,
  spec: PlanRunbook,
  marker: string,
  recover: boolean,
  actionId: string,
): Promise<Observation> {
  const { projectId, environmentId, tenantId } = await resolveTarget(octopus, spec);
  const runbooks = await collect(
    octopus.runbooks.listForProject(projectId, { partialName: spec.runbook }),
  );
  const runbook =
    runbooks.find((r) => r.Name === spec.runbook) ??
    runbooks.find((r) => r.Name.toLowerCase() === spec.runbook.toLowerCase());
  if (!runbook) {
    throw new PlanProblem(
      `${spec.project} has no runbook "${spec.runbook}" (found: ${runbooks.map((r) => r.Name).join(', ') || 'none'}).`,
    );
  }
  if (recover) {
    const recent = await collect(
      octopus.runbooks.listRuns({
        runbooks: [runbook.Id],
        environments: [environmentId],
        tenants: tenantId ? [tenantId] : undefined,
        maxItems: 30,
      }),
    );
    const found = recent.find((r) => typeof r.Comments === 'string' && r.Comments.includes(marker));
    if (found)
      return {
        kind: 'runbookStarted',
        actionId,
        runbookRunId: found.Id,
        taskId: found.TaskId,
        recovered: true,
      };
  }
  const run = await octopus.runbooks.run({
    RunbookId: runbook.Id,
    EnvironmentId: environmentId,
    TenantId: tenantId,
    Comments: marker,
  });
  return {
    kind: 'runbookStarted',
    actionId,
    runbookRunId: run.Id,
    taskId: run.TaskId,
    recovered: false,
  };
}

/**
 * App settings a playbook may not send to a third party: the coordinator's own credentials. A
 * playbook names its own setting for each webhook secret instead (see docs/security.md).
 */
const ownSecretSetting = (name: string): boolean =>
  (secretSettingNames as readonly string[]).includes(name) || /^AzureWebJobs/i.test(name);

/** Header values with their %SETTING% references resolved, and the resolved values (to redact). */
function webhookHeaders(
  spec: PlanWebhook,
  env: NodeJS.ProcessEnv,
): { headers: Record<string, string>; secrets: string[] } {
  const headers: Record<string, string> = {};
  const secrets: string[] = [];
  for (const [name, value] of Object.entries(spec.headers)) {
    headers[name] = value.replace(/%([A-Za-z0-9_]+)%/g, (_m, setting: string) => {
      if (ownSecretSetting(setting)) {
        throw new PlanProblem(
          `The webhook header ${name} names app setting ${setting}, one of the coordinator's own credentials, which are never sent to other services: put the value the receiver expects in a setting of its own and name that.`,
        );
      }
      const found = env[setting];
      if (found === undefined) {
        throw new PlanProblem(
          `The webhook header ${name} names app setting ${setting}, which is not set: add it to the app settings.`,
        );
      }
      secrets.push(found);
      return found;
    });
  }
  return { headers, secrets };
}

/** Sent with every outbound webhook call unless the playbook sets its own. */
export const webhookUserAgent = `octopus-coordinator/${appVersion}`;

/** {runUrl}: the run's record when PUBLIC_URL is set, else its path in the HTTP API. */
function runUrlOf(run: RunState, mail: RunMailContext): string {
  return runApiUrl(mail.publicUrl, run.id) ?? `/api/runs/${encodeURIComponent(run.id)}`;
}

async function callWebhook(
  spec: PlanWebhook,
  env: NodeJS.ProcessEnv,
  actionId: string,
): Promise<Observation> {
  const { headers, secrets } = webhookHeaders(spec, env);
  if (!Object.keys(headers).some((h) => h.toLowerCase() === 'user-agent'))
    headers['user-agent'] = webhookUserAgent;
  // Whatever the receiver or the HTTP stack says may quote a header value: it never reaches the run.
  const clean = (text: string) => redactSecrets(text, secrets);
  const hasBody = spec.method !== 'GET' && spec.body !== undefined;
  if (hasBody && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
    headers['content-type'] = 'application/json';
  const timeoutMs = Math.min((spec.timeoutMinutes ?? 0.5) * 60_000, 5 * 60_000);
  const host = new URL(spec.url).host;
  let response: Response;
  try {
    response = await fetch(spec.url, {
      method: spec.method,
      headers,
      body: hasBody
        ? typeof spec.body === 'string'
          ? spec.body
          : JSON.stringify(spec.body)
        : undefined,
      // A redirect would carry the headers (secrets included) to wherever it points.
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new Error(clean(`The call to ${host} failed: ${messageOf(err)}`));
  }
  // The answer's body is not used: do not read (and hold) what could be any size.
  await response.body?.cancel().catch(() => undefined);
  if (response.status >= 300 && response.status < 400) {
    throw new PlanProblem(
      clean(
        `${host} answered ${response.status} (a redirect${response.headers.get('location') ? ` to ${safeOrigin(response.headers.get('location') ?? '', spec.url)}` : ''}); webhook calls do not follow redirects, so that their headers go nowhere else: put the final URL in the playbook.`,
      ),
    );
  }
  if (!response.ok)
    throw new Error(clean(`${host} answered ${response.status} ${response.statusText}`));
  return { kind: 'webhookCalled', actionId, status: response.status };
}

/** Only the origin of a redirect target (its path or query may carry tokens). */
function safeOrigin(location: string, base: string): string {
  try {
    return new URL(location, base).origin;
  } catch {
    return 'an unreadable address';
  }
}

/**
 * The last check before a deployment is created (after the claim, after the marker search): a
 * freeze set at any moment before this read stops the create. Fresh reads, not the step's cache.
 */
async function frozenBeforeCreate(
  run: RunState,
  command: Extract<Command, { kind: 'createDeployment' }>,
  ports: ExecutorPorts,
): Promise<Observation | undefined> {
  if (!ports.freezes) return undefined;
  const action = allActions(run).find((a) => a.id === command.actionId);
  if (action?.spec.type !== 'deploy') return undefined;
  const spec = action.spec;
  await ports.beforeFreezeCheck?.(command);
  const r = command.resolution;
  const verdict = await ports.freezes()({
    project: spec.project,
    environment: spec.environment,
    tenant: spec.tenant,
    projectId: r.projectId,
    environmentId: r.environmentId,
    tenantId: r.tenantId,
  });
  const decision = deployDecision(spec, { ...r, lifecycle: undefined, freeze: verdict });
  if (decision.kind !== 'frozen') return undefined;
  const hits = verdict.hits.filter((h) => !(spec.rollback && h.allowsRollback));
  return { kind: 'deployFrozen', actionId: command.actionId, why: decision.why, hits };
}

/** Priority deployments jump Octopus's task queue; servers before 2025.2 do not know the field. */
async function supportsPriority(octopus: OctopusClient): Promise<boolean> {
  const version = await octopus.serverVersion().catch(() => undefined);
  return version !== undefined && versionAtLeast(version, priorityDeploymentsSince) === true;
}

async function perform(
  run: RunState,
  command: Command,
  ports: ExecutorPorts,
  templates: ReleaseTemplates,
  freezes: FreezeCheck | undefined,
): Promise<Observation[]> {
  const { octopus } = ports;
  switch (command.kind) {
    case 'capturePrevious':
      return [await capturePrevious(octopus, command.cells)];
    case 'resolveDeploy': {
      const resolution = await resolveDeploy(octopus, command.spec, { templates, freezes });
      return [{ kind: 'deployResolved', actionId: command.actionId, resolution }];
    }
    case 'evaluateCondition': {
      const result = await checkCondition(octopus, ports.config, command.condition, {
        environment: command.environment,
        tenant: command.tenant,
      });
      return [
        {
          kind: 'conditionEvaluated',
          actionId: command.actionId,
          ok: result.ok,
          reasons: result.ok ? [] : result.reasons,
        },
      ];
    }
    case 'claimDeploy':
      return [await claimDeploy(run, command, ports)];
    case 'releaseClaim': {
      if (command.leaseId) {
        await ports.claims.release(command.lock, command.leaseId).catch((err: unknown) => {
          // Expired and taken over already: nothing of ours to give back.
          if (!isLockError(err, 'not_holder')) throw err;
        });
      } else {
        // A claim granted to this action whose lease the run never recorded (the instance that asked
        // died before it could) is given back too.
        await leaveOrGiveBack(ports.claims, command.lock, {
          holder: `run ${run.id} action ${command.actionId}`,
          requestId: claimRequestId(run.id, command.actionId),
          ttlSeconds: groupTtlSeconds,
        });
      }
      const wake = (await nextInLine(ports.claims, command.lock)).filter((id) => id !== run.id);
      return [{ kind: 'claimReleased', actionId: command.actionId, lock: command.lock, wake }];
    }
    case 'cancelTask': {
      const task = await octopus.tasks.cancel(command.taskId);
      return [
        { kind: 'taskCancelRequested', taskId: command.taskId },
        {
          kind: 'task',
          taskId: task.Id,
          state: task.State,
          errorMessage: task.ErrorMessage || undefined,
        },
      ];
    }
    case 'createDeployment': {
      const r = command.resolution;
      if (command.recover) {
        const found = await octopus.deployments.findByMarker({
          projectId: r.projectId,
          environmentId: r.environmentId,
          tenantId: r.tenantId,
          releaseId: r.release.releaseId,
          marker: command.marker,
        });
        if (found)
          return [
            {
              kind: 'deploymentStarted',
              actionId: command.actionId,
              deploymentId: found.Id,
              taskId: found.TaskId,
              recovered: true,
            },
          ];
      }
      const frozen = await frozenBeforeCreate(run, command, ports);
      if (frozen) return [frozen];
      const priority = command.priority === true && (await supportsPriority(octopus));
      let deployment;
      try {
        deployment = await octopus.deployments.create({
          ReleaseId: r.release.releaseId,
          EnvironmentId: r.environmentId,
          ProjectId: r.projectId,
          ChannelId: r.channelId,
          TenantId: r.tenantId,
          Comments: command.marker,
          ...(priority ? { Priority: 'On' as const } : {}),
        });
      } catch (err) {
        // Octopus refuses a deployment into one of its freezes (400): when a freeze set since the
        // check explains the refusal, wait for it like any freeze instead of failing the run.
        if (err instanceof OctopusError && err.status === 400) {
          const late = await frozenBeforeCreate(run, command, ports);
          if (late) return [late];
        }
        throw err;
      }
      return [
        {
          kind: 'deploymentStarted',
          actionId: command.actionId,
          deploymentId: deployment.Id,
          taskId: deployment.TaskId,
          recovered: false,
        },
      ];
    }
    case 'runRunbook':
      return [
        await runRunbook(octopus, command.spec, command.marker, command.recover, command.actionId),
      ];
    case 'sendMail': {
      const runUrl = { runUrl: runUrlOf(run, ports.mail) };
      const mail = notifyMail(run, ports.mail, {
        subject: fillText(command.subject, runUrl),
        text: fillText(command.text, runUrl),
      });
      await ports.mailer.send({ to: command.to, ...mail, category: 'run-notify' });
      return [{ kind: 'mailSent', actionId: command.actionId }];
    }
    case 'callWebhook': {
      const body = fillJson(command.spec.body, { runUrl: runUrlOf(run, ports.mail) });
      return [await callWebhook({ ...command.spec, body }, ports.env, command.actionId)];
    }
    case 'sendFinishedMail': {
      const mail = runFinishedMail(run, ports.mail);
      await ports.mailer.send({ to: command.to, ...mail, category: 'run-finished' });
      return [{ kind: 'finishedMailSent' }];
    }
    case 'resolveApprovalPlan': {
      const items = await approvalItems(octopus, command.deploys);
      return [
        {
          kind: 'approvalPlanResolved',
          actionId: command.actionId,
          items,
          fingerprint: approvalFingerprint(items),
        },
      ];
    }
    case 'sendApprovalMail':
      return [await sendApprovalMail(run, command, ports)];
  }
}

/**
 * Perform commands in parallel. Failures become `commandFailed` observations; an irreversible command
 * is skipped (no observation: its intent stays and is reconciled later) when `mayAct()` says the run's lock may be gone.
 */
export async function executeCommands(
  run: RunState,
  commands: readonly Command[],
  ports: ExecutorPorts,
): Promise<Observation[]> {
  // One run step: deploys of the same release (tenants, several environments) share one template read.
  const templates = releaseTemplates((id) => ports.octopus.releases.deploymentTemplate(id));
  // …and one freeze read (the last check before a create reads again on its own).
  const freezes = ports.freezes?.();
  const results = await Promise.all(
    commands.map(async (command): Promise<Observation[]> => {
      if (irreversibleCommands.has(command.kind) && !(await ports.mayAct())) {
        ports.log.warn(
          `Run ${run.id}: not performing ${command.kind}: this instance's lock on the run is lost or could not be confirmed; the next advance reconciles it.`,
        );
        return [];
      }
      try {
        const observations = await perform(run, command, ports, templates, freezes);
        if (irreversibleCommands.has(command.kind) && ports.afterIrreversible) {
          for (const o of observations) await ports.afterIrreversible(command, o);
        }
        return observations;
      } catch (err) {
        const message = redactSecrets(messageOf(err), ownSecretValues(ports.env));
        const retryable = !(err instanceof PlanProblem) && isRetryable(err);
        ports.log.warn(
          `Run ${run.id}: ${command.kind}${'actionId' in command ? ` for ${command.actionId}` : ''} failed${retryable ? ' (will retry)' : ''}: ${message}`,
        );
        return [{ kind: 'commandFailed', command, message, retryable }];
      }
    }),
  );
  return results.flat();
}
