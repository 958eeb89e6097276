// Health: what each port is connected to and whether it answers. Never includes a secret.
import { storageAnswerWithin } from '../storage/answerWithin.js';
import { storageStatus } from '../storage/conditional.js';
import type { UnresolvedSetting } from '../config/settings.js';
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
    version?: string;
    error?: string;
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
  try {
    const response = await fetch(`${octopus.url}/api`, {
      headers: { 'X-Octopus-ApiKey': octopus.apiKey, Accept: 'application/json' },
      signal: AbortSignal.timeout(checkTimeoutMs),
    });
    if (!response.ok)
      return { ...base, reachable: false, error: `GET /api answered HTTP ${response.status}` };
    const root = (await response.json()) as { Version?: unknown };
    return {
      ...base,
      reachable: true,
      ...(typeof root.Version === 'string' ? { version: root.Version } : {}),
    };
  } catch (err) {
    return { ...base, reachable: false, error: describeError(err) };
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
  const unresolvedSettings = runtime.settings.unresolved;
  const status =
    !storage.reachable || unresolvedSettings.length > 0
      ? 'unavailable'
      : octopus.reachable === false || !secretConfigured
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
  };
}
