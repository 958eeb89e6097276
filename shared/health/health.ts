// Health: what each port is connected to and whether it answers. Never includes a secret.
import { octopusUrl } from '../octopus/links.js';
import {
  deploymentFreezesSince,
  priorityDeploymentsSince,
  versionAtLeast,
  versionProblem,
} from '../octopus/serverVersion.js';
import { storageAnswerWithin } from '../storage/answerWithin.js';
import { storageStatus } from '../storage/conditional.js';
import type { UnresolvedSetting } from '../config/settings.js';
import type { Runtime } from '../runtime/runtime.js';
import { eventsTable } from '../events/store.js';
import { eventsQueueName } from '../events/queue.js';
import { heldEventStats } from '../events/unstored.js';
import { listJobRuns, type JobRunRecord } from '../jobs/jobHistory.js';
import { listDeadLetters } from '../storage/deadLetters.js';
import { claimsTable } from '../storage/tables.js';

export interface HealthReport {
  status: 'ok' | 'degraded' | 'unavailable';
  version: string;
  instance: string;
  storage: { target: string; reachable: boolean; error?: string };
  octopus: {
    configured: boolean;
    url?: string;
    space?: string;
    reachable?: boolean;
    /**
     * ok; unreachable (no answer, or not an Octopus server); unauthorized (the server answers but
     * refuses OCTOPUS_API_KEY); unsupported (older than the oldest supported version).
     */
    state?: 'ok' | 'unreachable' | 'unauthorized' | 'unsupported';
    version?: string;
    /** The user the key belongs to, when it works. */
    user?: string;
    error?: string;
    /**
     * What this server's version offers the freezes feature: whether its deployment freezes are read
     * (2024.2+; older: skipped, only the coordinator's own freezes count) and whether rollbacks are
     * created with priority (2025.2+).
     */
    features?: { deploymentFreezes: string; priorityDeployments: string };
  };
  mail: { adapter: 'sendgrid' | 'outbox'; target: string };
  webhook: { secretConfigured: boolean; header: string; problem?: string };
  /**
   * Secret settings whose Key Vault reference the platform has not resolved, each with what to check.
   * Any entry makes the status 'unavailable' (HTTP 503).
   */
  unresolvedSettings: UnresolvedSetting[];
  config: {
    source: string;
    projectSets: number;
    watches: number;
    promotions: number;
    playbooks: number;
  };
  /**
   * Events acknowledged by this instance and not yet in storage; events set aside (dead-lettered);
   * events whose queue message the host moved to the poison queue after 5 failed deliveries (each is
   * still retried by the status poll until it succeeds or is set aside).
   */
  events: { held: number; heldBytes: number; setAside?: number; queuePoisoned?: number };
  /** Timer jobs that keep failing or have not succeeded for too long (each makes the status degraded). */
  jobs: { problems: JobProblem[]; error?: string };
}

export interface JobProblem {
  job: string;
  /** Runs in a row that failed. */
  failuresInARow: number;
  /** The last time it finished ok, if ever recorded. */
  lastOkAt?: string;
  problem: string;
}

/** A job failing this many runs in a row is reported (one failure can be a blip; three is a pattern). */
export const failingJobThreshold = 3;
/** The status poll runs every minute; no successful poll for this long means the safety net is down. */
export const statusPollStaleMs = 10 * 60_000;

const checkTimeoutMs = 3000;

async function checkStorage(runtime: Runtime): Promise<HealthReport['storage']> {
  const target = runtime.tables.describe();
  if (!runtime.tables.configured) return { target, reachable: false, error: 'not configured' };
  try {
    const table = await storageAnswerWithin(runtime.tables.table(claimsTable), checkTimeoutMs);
    await storageAnswerWithin(table.getEntity('health', 'probe'), checkTimeoutMs).catch(
      (err: unknown) => {
        if (storageStatus(err) !== 404) throw err;
      },
    );
    return { target, reachable: true };
  } catch (err) {
    return { target, reachable: false, error: describeError(err) };
  }
}

async function checkOctopus(runtime: Runtime): Promise<HealthReport['octopus']> {
  const octopus = runtime.settings.octopus;
  if (!octopus) {
    const waiting = runtime.settings.unresolved.some((u) => u.setting === 'OCTOPUS_API_KEY');
    return {
      configured: false,
      error: waiting
        ? 'OCTOPUS_API_KEY is an unresolved Key Vault reference (see unresolvedSettings)'
        : 'OCTOPUS_URL is not set',
    };
  }
  const base = { configured: true, url: octopus.url, space: octopus.space };
  const get = (path: string, withKey: boolean) =>
    fetch(octopusUrl(octopus.url, path), {
      headers: {
        Accept: 'application/json',
        ...(withKey ? { 'X-Octopus-ApiKey': octopus.apiKey } : {}),
      },
      signal: AbortSignal.timeout(checkTimeoutMs),
    });
  // GET /api is anonymous in Octopus: it says the server answers and its version, nothing about the key.
  let version: string | undefined;
  try {
    const response = await get('/api', false);
    if (!response.ok)
      return {
        ...base,
        reachable: false,
        state: 'unreachable',
        error: `GET /api answered HTTP ${response.status}: check OCTOPUS_URL (include any virtual directory, e.g. https://host/octopus).`,
      };
    const root = (await response.json()) as { Version?: unknown };
    if (typeof root.Version === 'string') version = root.Version;
  } catch (err) {
    return { ...base, reachable: false, state: 'unreachable', error: describeError(err) };
  }
  const withVersion = { ...base, reachable: true, ...(version ? { version } : {}) };
  // The key is checked by an authenticated route.
  try {
    const me = await get('/api/users/me', true);
    if (me.status === 401 || me.status === 403)
      return {
        ...withVersion,
        state: 'unauthorized',
        error: `Octopus refused the API key (GET /api/users/me answered ${me.status}): set OCTOPUS_API_KEY to a valid, unexpired key of the user the coordinator acts as.`,
      };
    if (!me.ok)
      return {
        ...withVersion,
        state: 'unreachable',
        error: `GET /api/users/me answered HTTP ${me.status}.`,
      };
    const user = (await me.json()) as { Username?: unknown };
    const problem = version ? versionProblem(version) : undefined;
    return {
      ...withVersion,
      ...(version ? { features: versionFeatures(version) } : {}),
      state: problem ? 'unsupported' : 'ok',
      ...(typeof user.Username === 'string' ? { user: user.Username } : {}),
      ...(problem ? { error: problem } : {}),
    };
  } catch (err) {
    return { ...withVersion, reachable: false, state: 'unreachable', error: describeError(err) };
  }
}

function versionFeatures(version: string): {
  deploymentFreezes: string;
  priorityDeployments: string;
} {
  const freezes = versionAtLeast(version, deploymentFreezesSince);
  const priority = versionAtLeast(version, priorityDeploymentsSince);
  return {
    deploymentFreezes:
      freezes === false
        ? `skipped: Octopus ${version} predates deployment freezes (2024.2); only the coordinator's own freezes are checked`
        : 'read before every deployment the coordinator creates',
    priorityDeployments:
      priority === true
        ? 'rollbacks are created with Priority On'
        : `not used: Octopus ${version} predates priority deployments (${priorityDeploymentsSince})`,
  };
}

function describeError(err: unknown): string {
  const status = storageStatus(err);
  const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return status ? `HTTP ${status}: ${message}` : (message ?? 'unknown error');
}

/** Jobs that keep failing, and a status poll that has not succeeded for too long (a stuck lease, a crash loop). */
export function jobProblems(runs: readonly JobRunRecord[], now: Date): JobProblem[] {
  const problems: JobProblem[] = [];
  for (const run of runs) {
    const failures = run.failuresInARow ?? 0;
    const base = {
      job: run.job,
      failuresInARow: failures,
      ...(run.lastOkAt ? { lastOkAt: run.lastOkAt } : {}),
    };
    if (failures >= failingJobThreshold) {
      problems.push({
        ...base,
        problem: `failed ${failures} runs in a row (last at ${run.finishedAt}); see the status page for its last error`,
      });
      continue;
    }
    if (run.job === 'statusPoll') {
      const okAt = run.lastOkAt ? new Date(run.lastOkAt).getTime() : undefined;
      const since = okAt ?? new Date(run.startedAt).getTime();
      if (now.getTime() - since > statusPollStaleMs)
        problems.push({
          ...base,
          problem: `no status poll has succeeded since ${new Date(since).toISOString()} (its last run: ${run.outcome}); missed webhooks, locks of ended tasks and run advancement wait for it`,
        });
    }
  }
  return problems;
}

async function checkJobs(runtime: Runtime): Promise<HealthReport['jobs']> {
  try {
    const runs = await storageAnswerWithin(listJobRuns(runtime.tables), checkTimeoutMs);
    return { problems: jobProblems(runs, runtime.clock.now()) };
  } catch (err) {
    return { problems: [], error: describeError(err) };
  }
}

async function countSetAside(runtime: Runtime, source = eventsTable): Promise<number | undefined> {
  try {
    return (await storageAnswerWithin(listDeadLetters(runtime.tables, source), checkTimeoutMs))
      .length;
  } catch {
    return undefined;
  }
}

export async function checkHealth(runtime: Runtime, version: string): Promise<HealthReport> {
  const [storage, octopus] = await Promise.all([checkStorage(runtime), checkOctopus(runtime)]);
  const [jobs, setAside, queuePoisoned] = storage.reachable
    ? await Promise.all([
        checkJobs(runtime),
        countSetAside(runtime),
        countSetAside(runtime, runtime.queues.name(eventsQueueName)),
      ])
    : [{ problems: [] }, undefined, undefined];
  const held = heldEventStats(runtime);
  const { webhook, mail } = runtime.settings;
  const secretConfigured = Boolean(webhook.secret);
  const config = runtime.config;
  const unresolvedSettings = runtime.settings.unresolved;
  const status =
    !storage.reachable || unresolvedSettings.length > 0
      ? 'unavailable'
      : octopus.reachable === false ||
          (octopus.state !== undefined && octopus.state !== 'ok') ||
          !secretConfigured ||
          jobs.problems.length > 0 ||
          held.count > 0
        ? 'degraded'
        : 'ok';
  return {
    status,
    version,
    instance: runtime.instanceId,
    storage,
    octopus,
    mail: { adapter: runtime.mailer.kind, target: runtime.mailer.describe() || mail.outboxDir },
    webhook: {
      secretConfigured,
      header: webhook.header,
      ...(secretConfigured
        ? {}
        : unresolvedSettings.some((u) => u.setting === 'WEBHOOK_SECRET')
          ? {
              problem:
                'WEBHOOK_SECRET is an unresolved Key Vault reference, so every Octopus webhook is refused until it resolves (see unresolvedSettings).',
            }
          : {
              problem:
                'WEBHOOK_SECRET is not set, so every Octopus webhook is refused with 401. Set it and put the same value in the subscription header.',
            }),
    },
    unresolvedSettings,
    config: {
      source: runtime.configSource,
      projectSets: Object.keys(config.projectSets).length,
      watches: config.watches.length,
      promotions: config.promotions.length,
      playbooks: Object.keys(config.playbooks).length,
    },
    events: {
      held: held.count,
      heldBytes: held.bytes,
      ...(setAside !== undefined ? { setAside } : {}),
      ...(queuePoisoned !== undefined ? { queuePoisoned } : {}),
    },
    jobs,
  };
}
