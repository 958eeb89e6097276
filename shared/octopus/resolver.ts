// Turns the names, slugs and ids people write in config into Octopus ids (filters take ids only).
import type { OctopusContext } from './context.js';
import { OctopusError } from './errors.js';

export type NamedKind = 'project' | 'environment' | 'tenant';

export interface NamedResource {
  Id: string;
  Name: string;
  Slug?: string;
}

const LABEL: Record<NamedKind, { title: string; endpoint: string }> = {
  project: { title: 'Project', endpoint: '/api/{spaceId}/projects/all' },
  environment: { title: 'Environment', endpoint: '/api/{spaceId}/environments/all' },
  tenant: { title: 'Tenant', endpoint: '/api/{spaceId}/tenants/all' },
};

/** Exact id, exact name, exact slug, then name or slug ignoring case. */
export function matchNamed<T extends NamedResource>(
  items: readonly T[],
  wanted: string,
): T | undefined {
  const lower = wanted.trim().toLowerCase();
  return (
    items.find((i) => i.Id === wanted) ??
    items.find((i) => i.Name === wanted) ??
    items.find((i) => i.Slug === wanted) ??
    items.find((i) => i.Name.toLowerCase() === lower || i.Slug?.toLowerCase() === lower)
  );
}

interface CacheEntry {
  items: Promise<NamedResource[]>;
}

/**
 * One `/all` call per kind, cached for the life of the client (one per process). A miss refreshes
 * the list once, in case the thing was created since, then fails with the names that do exist.
 */
export class OctopusNameResolver {
  private readonly cache = new Map<NamedKind, CacheEntry>();
  constructor(private readonly ctx: OctopusContext) {}

  projectId(nameOrId: string): Promise<string> {
    return this.resolve('project', nameOrId).then((r) => r.Id);
  }

  environmentId(nameOrId: string): Promise<string> {
    return this.resolve('environment', nameOrId).then((r) => r.Id);
  }

  tenantId(nameOrId: string): Promise<string> {
    return this.resolve('tenant', nameOrId).then((r) => r.Id);
  }

  /** Resolves many at once (one list call per kind at most, plus one refresh on a miss). */
  ids(kind: NamedKind, namesOrIds: readonly string[]): Promise<string[]> {
    return Promise.all(namesOrIds.map((n) => this.resolve(kind, n).then((r) => r.Id)));
  }

  async resolve(kind: NamedKind, nameOrId: string): Promise<NamedResource> {
    const first = this.entry(kind);
    const found = matchNamed(await first.items, nameOrId);
    if (found) return found;
    // Refresh once, unless someone already refreshed after our list was loaded.
    const current = this.cache.get(kind);
    const refreshed = current && current !== first ? current : this.load(kind);
    const items = await refreshed.items;
    const again = matchNamed(items, nameOrId);
    if (again) return again;
    throw this.notFound(kind, nameOrId, items);
  }

  /** Drops cached lists, e.g. after the config changed. */
  clear(): void {
    this.cache.clear();
  }

  private entry(kind: NamedKind): CacheEntry {
    return this.cache.get(kind) ?? this.load(kind);
  }

  private load(kind: NamedKind): CacheEntry {
    const items = this.ctx.getArray<NamedResource>(LABEL[kind].endpoint);
    const entry: CacheEntry = { items };
    this.cache.set(kind, entry);
    // A failed load is not cached: the next lookup tries again.
    items.catch(() => {
      if (this.cache.get(kind) === entry) this.cache.delete(kind);
    });
    return entry;
  }

  private notFound(kind: NamedKind, wanted: string, items: readonly NamedResource[]): OctopusError {
    const names = items.map((i) => i.Name);
    const shown =
      names.slice(0, 20).join(', ') + (names.length > 20 ? `, … (${names.length - 20} more)` : '');
    const { title, endpoint } = LABEL[kind];
    return new OctopusError({
      code: 'NameNotFound',
      method: 'GET',
      path: endpoint,
      message: `${title} '${wanted}' was not found in space '${this.ctx.spaceLabel}' (known: ${shown || 'none'}). Use the name, slug or id shown in Octopus, and check that the API key's user can see it.`,
    });
  }
}
