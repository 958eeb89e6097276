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
 * A link is a path from the server root, which may already include the virtual directory
 * (`/octopus/api/...`). Joins it to the server's origin, not to the configured base URL.
 */
export function linkToUrl(serverUrl: string, link: string): string {
  if (/^https?:\/\//i.test(link)) return link;
  const base = new URL(serverUrl);
  return `${base.origin}${link.startsWith('/') ? '' : '/'}${link}`;
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
  return `${serverUrl}/app#/${spaceId}/tasks/${encodeURIComponent(taskId)}`;
}
