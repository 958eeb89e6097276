// Octopus `Links` values are RFC 6570 templates such as `/api/Spaces-1/deployments{/id}{?skip,take}`.

export type LinkValue = string | number | boolean | readonly string[] | null | undefined;

const EXPRESSION = /\{([/?&]?)([^}]*)\}/g;

function encodeValue(value: Exclude<LinkValue, null | undefined>): string {
  if (Array.isArray(value)) return value.map((v) => encodeURIComponent(v)).join(',');
  return encodeURIComponent(String(value));
}

/**
 * Expands the template expressions Octopus uses: `{name}`, `{/name}`, `{?a,b}` and `{&a,b}`.
 * Undefined, null and empty-array values are left out; arrays become one comma-separated value.
 */
export function expandLink(template: string, values: Record<string, LinkValue> = {}): string {
  return template.replace(EXPRESSION, (_match, operator: string, names: string) => {
    const present = names
      .split(',')
      .map((n) => n.trim().replace(/\*$/, ''))
      .filter((n) => n !== '')
      .flatMap((name) => {
        const value = values[name];
        if (value === undefined || value === null) return [];
        if (Array.isArray(value) && value.length === 0) return [];
        return [[name, encodeValue(value as Exclude<LinkValue, null | undefined>)] as const];
      });
    if (present.length === 0) return '';
    switch (operator) {
      case '/':
        return present.map(([, v]) => `/${v}`).join('');
      case '?':
        return `?${present.map(([n, v]) => `${n}=${v}`).join('&')}`;
      case '&':
        return `&${present.map(([n, v]) => `${n}=${v}`).join('&')}`;
      default:
        return present.map(([, v]) => v).join(',');
    }
  });
}

/** Removes every `{…}` expression, leaving the plain path. */
export function stripLink(template: string): string {
  return template.replace(EXPRESSION, '');
}

/**
 * The server's base URL as configured, without trailing slashes and without a trailing `/api`
 * (an `OCTOPUS_URL` of `https://host/octopus/api` means the server at `https://host/octopus`).
 */
export function serverBase(url: string): string {
  return url.replace(/\/+$/, '').replace(/\/api$/i, '');
}

/**
 * The one URL builder for every Octopus call and link. `path` is either a path the client builds
 * (`/api/...`, `/app#/...`, from the server root) or a `Links` value, which Octopus gives as a path
 * from the host root that already includes any virtual directory (`/octopus/api/...`). Both land
 * under the configured base: a path that already starts with the base's directory is joined to the
 * origin, anything else to the base. Absolute URLs pass through.
 */
export function octopusUrl(base: string, path: string): string {
  if (/^https?:\/\//i.test(path)) return path;
  const url = new URL(serverBase(base));
  const dir = url.pathname.replace(/\/+$/, '');
  const p = path.startsWith('/') ? path : `/${path}`;
  if (dir !== '' && (p === dir || p.startsWith(`${dir}/`))) return `${url.origin}${p}`;
  return `${url.origin}${dir}${p}`;
}

/** A `Links` value as a full URL (see octopusUrl). */
export function linkToUrl(serverUrl: string, link: string): string {
  return octopusUrl(serverUrl, link);
}

/**
 * The Octopus web page of a task, for people: the task's own `Links.Web` when known, else
 * `{server}/app#/{spaceId}/tasks/{taskId}`. The one place that builds a task link.
 */
export function taskPageUrl(
  serverUrl: string,
  spaceId: string,
  taskId: string,
  webLink?: string,
): string {
  if (webLink) return linkToUrl(serverUrl, webLink);
  return octopusUrl(serverUrl, `/app#/${spaceId}/tasks/${encodeURIComponent(taskId)}`);
}

/**
 * taskPageUrl for many tasks of one space, as a function giving the same text: a link of the usual
 * form (`Links.Web` absent or `/app#/{spaceId}/tasks/{taskId}`) is one shared prefix joined to the
 * task id, so a report of 50,000 rows parses the server URL once and keeps no copy of it per row.
 */
export function taskPageUrls(
  serverUrl: string,
  spaceId: string,
): (taskId: string, webLink?: string) => string {
  const links = taskPageLinks(serverUrl, spaceId);
  return (taskId, webLink) => links.unusual(taskId, webLink) ?? links.prefix + taskId;
}

/**
 * The parts of `taskPageUrls`: `prefix` + the task id is a task's page, unless `unusual` gives its
 * page instead (a `Links.Web` of another form, or an id to encode). A caller can keep the id alone.
 */
export function taskPageLinks(
  serverUrl: string,
  spaceId: string,
): { prefix: string; unusual: (taskId: string, webLink?: string) => string | undefined } {
  const path = `/app#/${spaceId}/tasks/`;
  // octopusUrl(base, path + id) === octopusUrl(base, path) + id: the path starts with "/app#",
  // which a base's directory (a URL path, no '#') never prefixes, so only the origin and the
  // directory are put in front of it either way.
  const prefix = octopusUrl(serverUrl, path);
  const plain = /^[\w.!~*'()-]*$/; // what encodeURIComponent leaves as it is
  return {
    prefix,
    unusual: (taskId, webLink) => {
      const usual =
        !webLink ||
        (webLink.length === path.length + taskId.length &&
          webLink.startsWith(path) &&
          webLink.endsWith(taskId));
      return usual && plain.test(taskId)
        ? undefined
        : taskPageUrl(serverUrl, spaceId, taskId, webLink);
    },
  };
}
