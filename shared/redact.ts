// Keeps secrets (and anything shaped like an Octopus API key) out of anything a person or a log store may read.

/** Octopus API keys look like `API-` followed by 20+ upper-case letters and digits. */
const API_KEY_PATTERN = /API-[A-Z0-9]{16,}/g;

/**
 * Replaces every known secret, and anything shaped like an Octopus API key, with `mark`. The one
 * redaction of the app: logs, API answers, errors and emails all go through it.
 */
export function redactSecrets(
  text: string,
  secrets: readonly string[] = [],
  mark = '[redacted]',
): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join(mark);
  }
  return out.replace(API_KEY_PATTERN, `API-${mark}`);
}

/** A path without its query string, which might carry an `apikey` or other secrets. */
export function pathWithoutQuery(pathOrUrl: string): string {
  const q = pathOrUrl.search(/[?#]/);
  return q === -1 ? pathOrUrl : pathOrUrl.slice(0, q);
}
