// Helpers shared by the resource handlers: space checks and name filters.
import type { SimContext } from '../context.js';
import { listParam, queryValue } from '../paging.js';
import { notFound, type SimRequest } from '../router.js';

/** Checks the route's space exists and returns its id. */
export function spaceOf(request: SimRequest, sim: SimContext): string {
  const spaceId = request.params.spaceId ?? sim.state().space.id;
  if (spaceId.toLowerCase() !== sim.state().space.id.toLowerCase())
    throw notFound('space', spaceId);
  return sim.state().space.id;
}

/** Applies the usual ids and partialName filters. */
export function filterByIdsAndName<T extends { id: string; name: string }>(
  items: T[],
  request: SimRequest,
): T[] {
  const ids = listParam(request, 'ids');
  const partial = queryValue(request, 'partialName')?.toLowerCase();
  const name = queryValue(request, 'name')?.toLowerCase();
  return items.filter(
    (item) =>
      (!ids || ids.includes(item.id)) &&
      (!partial || item.name.toLowerCase().includes(partial)) &&
      (!name || item.name.toLowerCase() === name),
  );
}

export function byName<T extends { name: string }>(items: T[]): T[] {
  return [...items].sort((a, b) => a.name.localeCompare(b.name));
}

/** The record with this id, or the simulator's 404 naming its kind (e.g. "release"). */
export function findById<T extends { id: string }>(
  items: readonly T[],
  id: string | undefined,
  kind: string,
): T {
  const item = items.find((i) => i.id === id);
  if (!item) throw notFound(kind, id ?? '');
  return item;
}
