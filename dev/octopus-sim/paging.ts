// Octopus's paged collection shape, query list parsing and case-insensitive body fields.
import type { SimRequest } from './router.js';
import { SimHttpError } from './router.js';
import { parseTime } from './time.js';

export interface PageOptions {
  itemType: string;
  /** Path without query, e.g. "/api/Spaces-1/deployments". */
  basePath: string;
  /** Query names for the Template link. */
  queryNames: string[];
  defaultTake?: number;
}

export function paged<T>(
  items: T[],
  request: SimRequest,
  options: PageOptions,
  render: (item: T) => unknown,
): Record<string, unknown> {
  const skip = intParam(request, 'skip') ?? 0;
  const take = intParam(request, 'take') ?? options.defaultTake ?? 30;
  if (skip < 0 || take < 0) throw new SimHttpError(400, 'skip and take must be zero or positive.');
  const total = items.length;
  const pages = take === 0 ? 0 : Math.ceil(total / take);
  const lastSkip = Math.max(0, (pages - 1) * take);
  const others = new URLSearchParams(request.query);
  others.delete('skip');
  others.delete('take');
  others.delete('apikey');
  const extra = others.toString();
  const href = (s: number, t: number): string =>
    `${options.basePath}?skip=${s}&take=${t}${extra ? `&${extra}` : ''}`;
  const links: Record<string, string> = {
    Self: href(skip, take),
    Template: `${options.basePath}{?${['skip', 'take', ...options.queryNames].join(',')}}`,
    'Page.All': href(0, 2147483647),
    'Page.Current': href(skip, take),
  };
  if (skip > 0) links['Page.Previous'] = href(Math.max(0, skip - take), take);
  if (take > 0 && skip + take < total) links['Page.Next'] = href(skip + take, take);
  links['Page.Last'] = href(lastSkip, take);
  return {
    ItemType: options.itemType,
    TotalResults: total,
    ItemsPerPage: take,
    NumberOfPages: pages,
    LastPageNumber: Math.max(0, pages - 1),
    Items: items.slice(skip, skip + take).map(render),
    Links: links,
  };
}

export function intParam(request: SimRequest, name: string): number | undefined {
  const raw = queryValue(request, name);
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value))
    throw new SimHttpError(
      400,
      `The query parameter ${name} must be a whole number, not "${raw}".`,
    );
  return value;
}

/** An ISO 8601 date-time query parameter as epoch ms; undefined when absent or empty. */
export function dateTimeParam(request: SimRequest, name: string): number | undefined {
  const raw = queryValue(request, name);
  if (raw === undefined || raw === '') return undefined;
  const ms = parseTime(raw);
  if (ms === undefined)
    throw new SimHttpError(
      400,
      `The query parameter ${name} must be an ISO 8601 date-time, not "${raw}".`,
    );
  return ms;
}

/** A query value by case-insensitive name. */
export function queryValue(request: SimRequest, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [key, value] of request.query) if (key.toLowerCase() === lower) return value;
  return undefined;
}

/** A comma-list query parameter ("projects=Projects-1,Projects-2"); undefined when absent or empty. */
export function listParam(request: SimRequest, name: string): string[] | undefined {
  const raw = queryValue(request, name);
  if (raw === undefined) return undefined;
  const values = raw
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  return values.length > 0 ? values : undefined;
}

export function boolParam(request: SimRequest, name: string): boolean | undefined {
  const raw = queryValue(request, name);
  if (raw === undefined || raw === '') return undefined;
  return raw.toLowerCase() === 'true';
}

/** A body field by case-insensitive name (Octopus binds request bodies case-insensitively). */
export function field(body: unknown, name: string): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(body)) if (key.toLowerCase() === lower) return value;
  return undefined;
}

export function stringField(body: unknown, name: string): string | undefined {
  const value = field(body, name);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function stringArrayField(body: unknown, name: string): string[] {
  const value = field(body, name);
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

export function booleanField(body: unknown, name: string): boolean {
  return field(body, name) === true;
}
