// The Octopus client: made once, reused; resources hang off it as small typed APIs.
import { setTimeout as delay } from 'node:timers/promises';
import { inspect } from 'node:util';
import { ChannelsApi } from './channels.js';
import { OctopusContext } from './context.js';
import { DashboardApi } from './dashboard.js';
import { DeploymentFreezesApi } from './deploymentFreezes.js';
import { DeploymentsApi } from './deployments.js';
import { EnvironmentsApi } from './environments.js';
import { EventsApi } from './events.js';
import { OctopusHttp, type OctopusLog } from './http.js';
import type { JsonShape } from './selectJson.js';
import { InterruptionsApi } from './interruptions.js';
import { LifecyclesApi } from './lifecycles.js';
import { expandLink, octopusUrl, serverBase, type LinkValue } from './links.js';
import { ProgressionApi } from './progression.js';
import { ProjectsApi } from './projects.js';
import { ReleasesApi } from './releases.js';
import { OctopusNameResolver } from './resolver.js';
import { RunbooksApi } from './runbooks.js';
import { resolveSpaceId, SpacesApi } from './spaces.js';
import { TasksApi } from './tasks.js';
import { TenantsApi } from './tenants.js';
import type { OctopusCallCounter } from './callCounter.js';

export interface OctopusClientOptions {
  /** Server URL, including any virtual directory (`https://octopus.example.com/octopus`). */
  url: string;
  apiKey: string;
  /** Space name, slug or id (`Default`, `Spaces-1`). */
  space: string;
  /** Per-request timeout. Default 30 000 ms. */
  timeoutMs?: number;
  /** Retries of a retryable failure (reads, and checked creates). Default 4. */
  maxRetries?: number;
  /** Backoff base: the first retry waits up to this long, doubling each time. Default 1000 ms. */
  retryBaseMs?: number;
  /** Backoff ceiling. Default 30 000 ms. */
  retryMaxMs?: number;
  /** A `Retry-After` longer than this is not waited for. Default 120 000 ms. */
  maxRetryAfterMs?: number;
  /**
   * After a create got no answer (timeout, dropped connection), how long to let Octopus finish it
   * before checking whether it happened. Default: the request timeout, at most 30 000 ms.
   */
  createSettleMs?: number;
  log?: OctopusLog;
  sleep?: (ms: number) => Promise<void>;
  /** Randomness for backoff jitter, in [0, 1). */
  random?: () => number;
  /**
   * The client's own request budget per minute, so bursts never trip Octopus's rate limiter.
   * Default: none for a bare client; the app passes OCTOPUS_MAX_REQUESTS_PER_MINUTE (default 180).
   */
  maxRequestsPerMinute?: number;
  /** The budget's clock (ms since the epoch); default Date.now. Tests pass a simulated one. */
  now?: () => number;
}

/** The root document (`GET /api`). */
export interface OctopusRoot {
  Application?: string;
  Version: string;
  ApiVersion?: string;
  InstallationId?: string;
  HasLongTermSupport?: boolean;
  Links?: Record<string, string>;
}

const realSleep = (ms: number): Promise<void> => delay(ms);

export class OctopusClient {
  readonly spaces: SpacesApi;
  readonly projects: ProjectsApi;
  readonly environments: EnvironmentsApi;
  readonly tenants: TenantsApi;
  readonly lifecycles: LifecyclesApi;
  readonly channels: ChannelsApi;
  readonly releases: ReleasesApi;
  readonly deployments: DeploymentsApi;
  /** Octopus's own deployment freezes (2024.2+; instance-level, not per space). */
  readonly deploymentFreezes: DeploymentFreezesApi;
  readonly tasks: TasksApi;
  readonly dashboard: DashboardApi;
  readonly events: EventsApi;
  readonly interruptions: InterruptionsApi;
  readonly runbooks: RunbooksApi;
  readonly progression: ProgressionApi;
  /** Names/slugs/ids from config → ids, cached. */
  readonly resolve: OctopusNameResolver;
  readonly #http: OctopusHttp;
  readonly #url: string;
  readonly #space: string;

  constructor(options: OctopusClientOptions) {
    if (!/^https?:\/\//i.test(options.url)) {
      throw new Error(
        `The Octopus URL '${options.url}' is not an http(s) URL. Set OCTOPUS_URL to the server address, e.g. https://octopus.example.com.`,
      );
    }
    if (options.apiKey.trim() === '') {
      throw new Error(
        'No Octopus API key was given. Set OCTOPUS_API_KEY to an API key of the user the coordinator acts as.',
      );
    }
    this.#url = serverBase(options.url);
    this.#space = options.space;
    this.#http = new OctopusHttp({
      url: this.#url,
      apiKey: options.apiKey,
      timeoutMs: options.timeoutMs ?? 30_000,
      maxRetries: options.maxRetries ?? 4,
      retryBaseMs: options.retryBaseMs ?? 1_000,
      retryMaxMs: options.retryMaxMs ?? 30_000,
      maxRetryAfterMs: options.maxRetryAfterMs ?? 120_000,
      createSettleMs: options.createSettleMs ?? Math.min(options.timeoutMs ?? 30_000, 30_000),
      log: options.log ?? (() => undefined),
      sleep: options.sleep ?? realSleep,
      random: options.random ?? Math.random,
      maxRequestsPerMinute: options.maxRequestsPerMinute ?? 0,
      ...(options.now ? { now: options.now } : {}),
    });
    let spaceId: Promise<string> | undefined;
    const http = this.#http;
    const resolveSpace = (): Promise<string> => {
      spaceId ??= resolveSpaceId(http, options.space).catch((error: unknown) => {
        spaceId = undefined; // not cached: the next call tries again
        throw error;
      });
      return spaceId;
    };
    const ctx = new OctopusContext(http, resolveSpace, options.space);
    this.#ctx = ctx;
    this.spaces = new SpacesApi(ctx);
    this.projects = new ProjectsApi(ctx);
    this.environments = new EnvironmentsApi(ctx);
    this.tenants = new TenantsApi(ctx);
    this.lifecycles = new LifecyclesApi(ctx);
    this.channels = new ChannelsApi(ctx);
    this.releases = new ReleasesApi(ctx);
    this.deployments = new DeploymentsApi(ctx);
    this.deploymentFreezes = new DeploymentFreezesApi(ctx);
    this.tasks = new TasksApi(ctx);
    this.dashboard = new DashboardApi(ctx);
    this.events = new EventsApi(ctx);
    this.interruptions = new InterruptionsApi(ctx);
    this.runbooks = new RunbooksApi(ctx);
    this.progression = new ProgressionApi(ctx);
    this.resolve = new OctopusNameResolver(ctx);
  }

  readonly #ctx: OctopusContext;

  /** Every request this client sent, per endpoint template (retries included). */
  get calls(): OctopusCallCounter {
    return this.#http.calls;
  }

  /** The server's base URL (configured URL without a trailing `/api`; never includes the key). */
  get url(): string {
    return this.#url;
  }

  /** A `Links` value (e.g. a task's `Web` link) or a path from the server root as a full URL. */
  webUrl(linkOrPath: string): string {
    return octopusUrl(this.#url, linkOrPath);
  }

  /** The root document: server version and links. Anonymous in Octopus: proves nothing about the key. */
  async root(): Promise<OctopusRoot> {
    return this.#ctx.getObject<OctopusRoot>('/api');
  }

  #version: Promise<string> | undefined;

  /** The server's version, read from the root document once (a failed read is tried again next time). */
  serverVersion(): Promise<string> {
    this.#version ??= this.root().then(
      (root) => root.Version,
      (error: unknown) => {
        this.#version = undefined;
        throw error;
      },
    );
    return this.#version;
  }

  /** The user the API key belongs to (`GET /api/users/me`): an authenticated call, so it checks the key. */
  async currentUser(): Promise<{ Id: string; Username?: string; DisplayName?: string }> {
    return this.#ctx.getObject('/api/users/me');
  }

  /** The id of the configured space (resolved once). */
  spaceId(): Promise<string> {
    return this.#ctx.spaceId();
  }

  /** GETs a `Links` value (a path from the server root, maybe a template) as JSON. */
  async getLink(
    link: string,
    values: Record<string, LinkValue> = {},
    options: { select?: JsonShape } = {},
  ): Promise<unknown> {
    const path = expandLink(link, values);
    const endpoint = path.split('?')[0]?.replace(/\b[A-Za-z]+-\d+\b/g, '{id}') ?? path;
    const result = await this.#http.request({
      method: 'GET',
      endpoint,
      path,
      fromLink: true,
      select: options.select,
    });
    return result.data;
  }

  toJSON(): Record<string, unknown> {
    return { url: this.#url, space: this.#space, calls: this.calls.total };
  }

  [inspect.custom](): string {
    return `OctopusClient ${inspect(this.toJSON())}`;
  }
}

export function createOctopusClient(options: OctopusClientOptions): OctopusClient {
  return new OctopusClient(options);
}
