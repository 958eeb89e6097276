// Version ordering as Octopus sorts releases (semantic versions, with up to four numeric parts) and version ranges.

interface ParsedVersion {
  numbers: number[];
  prerelease: string[];
}

function parse(version: string): ParsedVersion | undefined {
  const match = /^v?(\d+(?:\.\d+){0,3})(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(
    version.trim(),
  );
  if (!match) return undefined;
  const numbers = (match[1] ?? '').split('.').map(Number);
  while (numbers.length < 4) numbers.push(0);
  return { numbers, prerelease: match[2] ? match[2].split('.') : [] };
}

function compareIdentifiers(a: string, b: string): number {
  const an = /^\d+$/.test(a);
  const bn = /^\d+$/.test(b);
  if (an && bn) return Math.sign(Number(a) - Number(b));
  if (an) return -1; // numeric identifiers sort before alphanumeric ones
  if (bn) return 1;
  const la = a.toLowerCase();
  const lb = b.toLowerCase();
  return la < lb ? -1 : la > lb ? 1 : 0;
}

/**
 * Negative when `a` is older than `b`, 0 when equal, positive when newer. Build metadata is ignored,
 * a pre-release sorts before its release (1.0.0-beta < 1.0.0), and 1.2 equals 1.2.0.0. Versions that are
 * not semantic at all compare by text, after any semantic one.
 */
export function compareVersions(a: string, b: string): number {
  const pa = parse(a);
  const pb = parse(b);
  if (!pa || !pb) {
    if (pa) return 1;
    if (pb) return -1;
    return a.localeCompare(b, 'en', { numeric: true, sensitivity: 'base' });
  }
  for (let i = 0; i < 4; i++) {
    const diff = (pa.numbers[i] ?? 0) - (pb.numbers[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  if (pa.prerelease.length === 0 || pb.prerelease.length === 0) {
    return pa.prerelease.length === pb.prerelease.length ? 0 : pa.prerelease.length === 0 ? 1 : -1;
  }
  const n = Math.max(pa.prerelease.length, pb.prerelease.length);
  for (let i = 0; i < n; i++) {
    const x = pa.prerelease[i];
    const y = pb.prerelease[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const c = compareIdentifiers(x, y);
    if (c !== 0) return c;
  }
  return 0;
}

export function isSemanticVersion(version: string): boolean {
  return parse(version) !== undefined;
}

type Bound = { op: '>' | '>=' | '<' | '<=' | '='; version: string };

/**
 * Parse a version range: NuGet interval notation (`[2.0,3.0)`, `(,1.5]`, `[1.2.3]`) or comparators
 * separated by spaces or commas (`>=2.3 <3`, `=1.4.0`); a bare version means "at least".
 * Throws an Error that says what is wrong.
 */
export function parseVersionRange(range: string): Bound[] {
  const text = range.trim();
  const interval = /^([[(])\s*([^,\])]*)\s*(?:,\s*([^\])]*)\s*)?([\])])$/.exec(text);
  if (interval) {
    const [, open, low = '', high, close] = interval;
    for (const bound of [low, high?.trim() ?? '']) {
      if (bound !== '' && !isSemanticVersion(bound))
        throw new Error(`"${range}" is not a valid range: "${bound}" is not a version`);
    }
    if (high === undefined) {
      if (open !== '[' || close !== ']' || low === '')
        throw new Error(`"${range}" is not a valid range: an exact version is written [1.2.3]`);
      return [{ op: '=', version: low }];
    }
    const bounds: Bound[] = [];
    if (low !== '') bounds.push({ op: open === '[' ? '>=' : '>', version: low });
    if (high.trim() !== '') bounds.push({ op: close === ']' ? '<=' : '<', version: high.trim() });
    if (bounds.length === 0)
      throw new Error(`"${range}" is not a valid range: give at least one bound`);
    return bounds;
  }
  // ">= 2.3" and ">=2.3" mean the same: attach each operator to the version after it first.
  const parts = text
    .replace(/(>=|<=|>|<|=)\s+/g, '$1')
    .split(/[\s,]+/)
    .filter((p) => p !== '');
  if (parts.length === 0) throw new Error('The version range is empty');
  return parts.map((part) => {
    const m = /^(>=|<=|>|<|=)?(.+)$/.exec(part);
    const version = m?.[2];
    if (!m || version === undefined || !isSemanticVersion(version))
      throw new Error(`"${part}" in range "${range}" is not a comparison such as >=2.3.0`);
    const op = (m[1] ?? '>=') as Bound['op'];
    return { op, version };
  });
}

/** True when `version` lies inside `range` (see parseVersionRange). */
export function satisfiesRange(version: string, range: string | Bound[]): boolean {
  const bounds = typeof range === 'string' ? parseVersionRange(range) : range;
  return bounds.every((b) => {
    const c = compareVersions(version, b.version);
    switch (b.op) {
      case '>':
        return c > 0;
      case '>=':
        return c >= 0;
      case '<':
        return c < 0;
      case '<=':
        return c <= 0;
      case '=':
        return c === 0;
    }
  });
}
