// The composition root: builds the ports (state, Octopus, mail, clock) from settings, once per process.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { systemClock, type Clock } from '../clock.js';
import type { CoordinationConfig } from '../config/coordination/schema.js';
import type { Settings } from '../config/settings.js';
import { CoordinatorError } from '../errors.js';
import { setSecretsForRedaction } from '../http/handler.js';
import type { Mailer } from '../mail/mailer.js';
import type { OctopusClient } from '../octopus/client.js';
import { QueueStore } from '../storage/queueStore.js';
import { TableStore } from '../storage/tableStore.js';

/**
 * What the webhook needs: settings, config, storage, clock, identity. Built first and on its own, so
 * the first webhook of a cold start does not load or build mail and the Octopus client (the full
 * runtime is the same object with those added: state kept per runtime is shared).
 */
export interface CoreRuntime {
  settings: Settings;
  config: CoordinationConfig;
  /** Where the config came from: a file path, or a note that there was none. */
  configSource: string;
  tables: TableStore;
  /** Storage queues (webhook events are handed to a queue-triggered function). */
  queues: QueueStore;
  clock: Clock;
  /** Identifies this process in lock holders and logs. */
  instanceId: string;
}

export interface Runtime extends CoreRuntime {
  mailer: Mailer;
  /** The Octopus client, or undefined when OCTOPUS_URL is not set. */
  octopus: OctopusClient | undefined;
}

export interface RuntimeOptions {
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  /** Prefix for all table names (tests give each suite its own tables). */
  tablePrefix?: string;
  /** Prefix for all queue names (lowercase, ending in '-'; tests sharing one Azurite). */
  queuePrefix?: string;
  /** Use this config instead of reading COORDINATION_CONFIG. */
  config?: CoordinationConfig;
  mailer?: Mailer;
}

export async function createRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  return completeRuntime(await createCoreRuntime(options), options.mailer);
}

/** Settings and config (validated: a bad one is reported here), storage, clock; no mail, no Octopus. */
export async function createCoreRuntime(options: RuntimeOptions = {}): Promise<CoreRuntime> {
  // Loaded here, not at import: registering functions at start needs none of them (cold start).
  const [{ loadSettings }, { loadCoordinationConfig }] = await Promise.all([
    import('../config/settings.js'),
    import('../config/loadCoordinationConfig.js'),
  ]);
  const settings = loadSettings(options.env ?? process.env);
  setSecretsForRedaction(settings.secrets);
  let config = options.config;
  let configSource = 'provided in code';
  if (!config) {
    const loaded = await loadCoordinationConfig(settings.coordinationConfigPath, {
      required: settings.coordinationConfigExplicit,
    });
    config = loaded.config;
    configSource = loaded.missing
      ? `none (${settings.coordinationConfigPath} not found: no sets, watches, promotions or playbooks)`
      : settings.coordinationConfigPath;
  }
  const core: CoreRuntime = {
    settings,
    config,
    configSource,
    tables: new TableStore(settings.storage, options.tablePrefix ?? ''),
    queues: new QueueStore(settings.queues, options.queuePrefix ?? ''),
    clock: options.clock ?? systemClock,
    instanceId: `${hostname()}-${process.pid}-${randomUUID().slice(0, 6)}`,
  };
  return core;
}

function isComplete(runtime: CoreRuntime): runtime is Runtime {
  return 'mailer' in runtime && 'octopus' in runtime;
}

/**
 * Adds mail and the Octopus client to a core runtime, in place (the same object, so whatever is kept
 * per runtime, e.g. held events, is shared with the webhook). Their settings were validated with the
 * rest, so building them cannot fail for configuration.
 */
async function completeRuntime(core: CoreRuntime, mailer?: Mailer): Promise<Runtime> {
  if (isComplete(core)) return core;
  const [{ createMailer }, { createOctopusClient }] = await Promise.all([
    import('../mail/createMailer.js'),
    import('../octopus/client.js'),
  ]);
  if (isComplete(core)) return core;
  const { settings } = core;
  const parts: Pick<Runtime, 'mailer' | 'octopus'> = {
    mailer: mailer ?? createMailer(settings.mail),
    octopus: settings.octopus
      ? createOctopusClient({
          url: settings.octopus.url,
          apiKey: settings.octopus.apiKey,
          space: settings.octopus.space,
          maxRequestsPerMinute: settings.octopus.maxRequestsPerMinute,
        })
      : undefined,
  };
  return Object.assign(core, parts);
}

let currentCore: Promise<CoreRuntime> | undefined;
let current: Promise<Runtime> | undefined;
/** Settings that were unresolved Key Vault references when `currentCore` was built from process.env. */
let awaiting: string[] = [];

const keyVaultReference = /^\s*@Microsoft\.KeyVault\(/i;

/**
 * What the webhook needs of the process-wide runtime (getRuntime), without mail and the Octopus client:
 * the same object getRuntime completes, built on first use from process.env with the same settings and
 * config checks (a bad setting or config fails here as it does in getRuntime).
 */
export function getCoreRuntime(): Promise<CoreRuntime> {
  if (currentCore && awaiting.some((name) => !keyVaultReference.test(process.env[name] ?? ''))) {
    currentCore = undefined;
    current = undefined;
  }
  if (!currentCore) {
    const created = createCoreRuntime();
    currentCore = created;
    current = undefined;
    awaiting = [];
    created.then(
      (runtime) => {
        if (currentCore === created) awaiting = runtime.settings.unresolved.map((u) => u.setting);
      },
      () => {
        if (currentCore === created) {
          currentCore = undefined;
          current = undefined;
        }
      },
    );
  }
  return currentCore;
}

/**
 * The process-wide runtime, created on first use from process.env. While a secret is an unresolved Key
 * Vault reference the runtime is rebuilt as soon as process.env holds the resolved value, so the app
 * picks it up without a restart.
 */
export function getRuntime(): Promise<Runtime> {
  const core = getCoreRuntime();
  if (!current) {
    const completed = core.then((c) => completeRuntime(c));
    current = completed;
    completed.catch(() => {
      if (current === completed) current = undefined;
    });
  }
  return current;
}

/**
 * For a job that needs some secrets: the unresolved ones among them, logged once as the reason to skip.
 * Empty when the job can run.
 */
export function unresolvedNeeds(runtime: Runtime, needs: readonly string[]): string[] {
  return runtime.settings.unresolved.filter((u) => needs.includes(u.setting)).map((u) => u.setting);
}

/** Replace the process-wide runtime (tests, the dev host). */
export function setRuntime(runtime: Runtime | Promise<Runtime> | undefined): void {
  awaiting = [];
  current = runtime === undefined ? undefined : Promise.resolve(runtime);
  currentCore = current;
}

/** The Octopus client, or a 503 that says how to configure it. */
export function requireOctopus(runtime: Runtime): OctopusClient {
  if (!runtime.octopus) {
    throw new CoordinatorError(
      'unavailable',
      'octopus_not_configured',
      'Octopus is not configured: set OCTOPUS_URL and OCTOPUS_API_KEY (the dev host starts a simulator when OCTOPUS_URL is unset).',
    );
  }
  return runtime.octopus;
}
