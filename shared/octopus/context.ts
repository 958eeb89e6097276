// What every resource module gets: the transport, the resolved space, and typed request helpers.
import { OctopusError } from './errors.js';
import type { HttpMethod, OctopusHttp, QueryValue } from './http.js';
import type { JsonShape } from './selectJson.js';
import {
  pagedList,
  type PageOptions,
  type PagedAsyncIterable,
  type ResourceCollection,
} from './paging.js';

export interface CallOptions {
  params?: Record<string, string>;
  query?: Record<string, QueryValue>;
  body?: unknown;
  retry?: boolean;
  /** Keep only these fields of the answer (read from its bytes, see selectJson). */
  select?: JsonShape;
}

/** A page's own fields with only `fields` of each item. */
export function pageShape(fields: JsonShape): JsonShape {
  return { TotalResults: true, ItemsPerPage: true, Items: [fields] };
}

export class OctopusContext {
  constructor(
    readonly http: OctopusHttp,
    /** Resolves (once) the configured space to its id. */
    readonly spaceId: () => Promise<string>,
    /** The space as the user configured it, for messages. */
    readonly spaceLabel: string,
  ) {}

  /** Fills `{spaceId}` and the other `{name}` placeholders of an endpoint template. */
  async path(endpoint: string, params: Record<string, string> = {}): Promise<string> {
    const needsSpace = endpoint.includes('{spaceId}');
    const spaceId = needsSpace ? await this.spaceId() : '';
    return endpoint.replace(/\{(\w+)\}/g, (_m, name: string) => {
      if (name === 'spaceId') return encodeURIComponent(spaceId);
      const value = params[name];
      if (value === undefined) throw new Error(`Missing path parameter '${name}' for ${endpoint}`);
      return encodeURIComponent(value);
    });
  }

  async call(method: HttpMethod, endpoint: string, options: CallOptions = {}): Promise<unknown> {
    const path = await this.path(endpoint, options.params);
    const result = await this.http.request({
      method,
      endpoint,
      path,
      query: options.query,
      body: options.body,
      retry: options.retry,
      select: options.select,
    });
    return result.data;
  }

  async getObject<T>(endpoint: string, options: CallOptions = {}): Promise<T> {
    const data = await this.call('GET', endpoint, options);
    return expectObject<T>(data, 'GET', endpoint);
  }

  /** Like getObject, but a 404 gives undefined. */
  async findObject<T>(endpoint: string, options: CallOptions = {}): Promise<T | undefined> {
    try {
      return await this.getObject<T>(endpoint, options);
    } catch (error) {
      if (error instanceof OctopusError && error.status === 404) return undefined;
      throw error;
    }
  }

  async getArray<T>(endpoint: string, options: CallOptions = {}): Promise<T[]> {
    const data = await this.call('GET', endpoint, options);
    if (!Array.isArray(data)) throw invalidShape('GET', endpoint, 'a JSON array');
    return data as T[];
  }

  async getPage<T>(endpoint: string, options: CallOptions = {}): Promise<ResourceCollection<T>> {
    const data = await this.call('GET', endpoint, options);
    return expectCollection<T>(data, 'GET', endpoint);
  }

  /**
   * A paged list as an async iterator; `map` normalizes each item (e.g. numeric enums). With
   * `fields`, each item has only those fields (the rest of the page is never decoded).
   */
  list<T>(
    endpoint: string,
    options: CallOptions & PageOptions & { fields?: JsonShape } = {},
    map: (item: T) => T = (item) => item,
  ): PagedAsyncIterable<T> {
    const { fields, ...call } = options;
    return pagedList<T>(async (skip, take) => {
      const page = await this.getPage<T>(endpoint, {
        ...call,
        query: { ...call.query, skip, take },
        select: fields ? pageShape(fields) : call.select,
      });
      return { ...page, Items: page.Items.map(map) };
    }, call);
  }
}

export function expectObject<T>(data: unknown, method: string, endpoint: string): T {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw invalidShape(method, endpoint, 'a JSON object');
  }
  return data as T;
}

export function expectCollection<T>(
  data: unknown,
  method: string,
  endpoint: string,
): ResourceCollection<T> {
  const record = expectObject<Record<string, unknown>>(data, method, endpoint);
  if (!Array.isArray(record.Items)) throw invalidShape(method, endpoint, 'a collection with Items');
  return record as unknown as ResourceCollection<T>;
}

function invalidShape(method: string, endpoint: string, expected: string): OctopusError {
  return new OctopusError({
    code: 'InvalidResponse',
    method,
    path: endpoint,
    message: `Octopus answered ${method} ${endpoint} with JSON that is not ${expected}. The server may be a different version than this client supports, or OCTOPUS_URL may point at something else.`,
  });
}
