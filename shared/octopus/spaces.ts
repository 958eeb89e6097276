// Spaces, and turning the configured space (name, slug or id) into its id once.
import { OctopusError } from './errors.js';
import type { OctopusHttp } from './http.js';
import type { OctopusContext } from './context.js';
import { expectCollection } from './context.js';

export interface Space {
  Id: string;
  Name: string;
  Slug?: string;
  Description?: string | null;
  IsDefault?: boolean;
  TaskQueueStopped?: boolean;
  SpaceManagersTeams?: string[];
  SpaceManagersTeamMembers?: string[];
}

const SPACE_ID = /^Spaces-\d+$/;

/** True when the value is already a space id, so no lookup is needed. */
export function isSpaceId(value: string): boolean {
  return SPACE_ID.test(value);
}

/** Picks the space a person meant: exact id, exact name, exact slug, then case-insensitive name/slug. */
export function matchSpace(spaces: readonly Space[], wanted: string): Space | undefined {
  const lower = wanted.toLowerCase();
  return (
    spaces.find((s) => s.Id === wanted) ??
    spaces.find((s) => s.Name === wanted) ??
    spaces.find((s) => s.Slug === wanted) ??
    spaces.find((s) => s.Name.toLowerCase() === lower || s.Slug?.toLowerCase() === lower)
  );
}

/**
 * Resolves a space name, slug or id to its id. An id is used as is (its first call will 404 if it
 * is wrong); a name costs one `/api/spaces/all` call, or a `partialName` search on servers without it.
 */
export async function resolveSpaceId(http: OctopusHttp, space: string): Promise<string> {
  if (isSpaceId(space)) return space;
  let spaces: Space[];
  try {
    const { data } = await http.request({
      method: 'GET',
      endpoint: '/api/spaces/all',
      path: '/api/spaces/all',
    });
    spaces = Array.isArray(data) ? (data as Space[]) : [];
  } catch (error) {
    if (!(error instanceof OctopusError) || error.status !== 404) throw error;
    const { data } = await http.request({
      method: 'GET',
      endpoint: '/api/spaces',
      path: '/api/spaces',
      query: { partialName: space, skip: 0, take: 2147483647 },
    });
    spaces = expectCollection<Space>(data, 'GET', '/api/spaces').Items;
  }
  const found = matchSpace(spaces, space);
  if (!found) {
    const known = spaces.map((s) => s.Name).join(', ') || 'none visible to this API key';
    throw new OctopusError({
      code: 'NameNotFound',
      method: 'GET',
      path: '/api/spaces/all',
      message: `Space '${space}' was not found on the Octopus server (known: ${known}). Check the space in the settings; the API key's user must be able to see it.`,
    });
  }
  return found.Id;
}

export class SpacesApi {
  constructor(private readonly ctx: OctopusContext) {}

  all(): Promise<Space[]> {
    return this.ctx.getArray<Space>('/api/spaces/all');
  }

  get(id: string): Promise<Space> {
    return this.ctx.getObject<Space>('/api/spaces/{id}', { params: { id } });
  }

  /** The id of the space this client works in. */
  currentId(): Promise<string> {
    return this.ctx.spaceId();
  }
}
