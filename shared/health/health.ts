// Health: what each port is connected to and whether it answers. Never includes a secret.
import { octopusUrl } from '../octopus/links.js';
import { versionProblem } from '../octopus/serverVersion.js';
import { storageAnswerWithin } from '../storage/answerWithin.js';
import { storageStatus } from '../storage/conditional.js';
import type { Runtime } from '../runtime/runtime.js';

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
  };
  mail: { adapter: 'sendgrid' | 'outbox'; target: string };
  webhook: { secretConfigured: boolean; header: string; problem?: string };
  config: {
    source: string;
    projectSets: number;
    watches: number;
    promotions: number;
    playbooks: number;
  };
}

const checkTimeoutMs = 3000;

async function checkStorage(runtime: Runtime): Promise<HealthReport['storage']> {
  const target = runtime.tables.describe();
  if (!runtime.tables.configured) return { target, reachable: false, error: 'not configured' };
  try {
    const table = await storageAnswerWithin(runtime.tables.table('jobs'), checkTimeoutMs);
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
  if (!octopus) return { configured: false, error: 'OCTOPUS_URL is not set' };
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
      state: problem ? 'unsupported' : 'ok',
      ...(typeof user.Username === 'string' ? { user: user.Username } : {}),
      ...(problem ? { error: problem } : {}),
    };
  } catch (err) {
    return { ...withVersion, reachable: false, state: 'unreachable', error: describeError(err) };
  }
}

function describeError(err: unknown): string {
  const status = storageStatus(err);
  const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return status ? `HTTP ${status}: ${message}` : (message ?? 'unknown error');
}

export async function checkHealth(runtime: Runtime, version: string): Promise<HealthReport> {
  const [storage, octopus] = await Promise.all([checkStorage(runtime), checkOctopus(runtime)]);
  const { webhook, mail } = runtime.settings;
  const secretConfigured = Boolean(webhook.secret);
  const config = runtime.config;
  const status = !storage.reachable
    ? 'unavailable'
    : octopus.reachable === false || (octopus.state && octopus.state !== 'ok') || !secretConfigured
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
        : {
            problem:
              'WEBHOOK_SECRET is not set, so every Octopus webhook is refused with 401. Set it and put the same value in the subscription header.',
          }),
    },
    config: {
      source: runtime.configSource,
      projectSets: Object.keys(config.projectSets).length,
      watches: config.watches.length,
      promotions: config.promotions.length,
      playbooks: Object.keys(config.playbooks).length,
    },
  };
}
