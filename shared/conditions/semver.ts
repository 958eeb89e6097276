// Octopus's version ordering (numeric parts, then pre-release below release) and version ranges.

/** A parsed version: up to four numeric parts and pre-release identifiers; build metadata is ignored. */
export interface ParsedVersion {
  /** Major, minor, patch, revision (missing parts are 0). */
  parts: [number, number, number, number];
  /** Pre-release identifiers (after `-`), empty for a release. */
  prerelease: string[];
  /** The text as written. */
  original: string;
}

const SEMVER =
  /^[vV]?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]*)?$/;

/** Parse a version as Octopus does (SemVer 2 with an optional fourth part), or undefined if it is not one. */
export function parseVersion(text: string): ParsedVersion | undefined {
  const m = SEMVER.exec(text.trim());
  if (!m) return undefined;
  const num = (s: string | undefined) => (s === undefined ? 0 : Number(s));
  const prerelease = m[5] === undefined ? [] : m[5].split('.');
  if (prerelease.some((id) => id === '')) return undefined;
  return { parts: [num(m[1]), num(m[2]), num(m[3]), num(m[4])], prerelease, original: text };
}

const NUMERIC = /^\d+$/;

function compareIdentifiers(a: string, b: string): number {
  const an = NUMERIC.test(a);
  const bn = NUMERIC.test(b);
  // SemVer: numeric identifiers sort below alphanumeric ones; numbers compare by value.
  if (an && bn) return Math.sign(Number(a) - Number(b));
  if (an !== bn) return an ? -1 : 1;
  const al = a.toLowerCase();
  const bl = b.toLowerCase();
  return al < bl ? -1 : al > bl ? 1 : 0;
}

function compareParsed(a: ParsedVersion, b: ParsedVersion): number {
  for (let i = 0; i < 4; i++) {
    const d = Math.sign((a.parts[i] ?? 0) - (b.parts[i] ?? 0));
    if (d !== 0) return d;
  }
  // A release is higher than any of its pre-releases.
  if (a.prerelease.length === 0 || b.prerelease.length === 0) {
    return Math.sign(b.prerelease.length - a.prerelease.length);
  }
  const n = Math.min(a.prerelease.length, b.prerelease.length);
  for (let i = 0; i < n; i++) {
    const d = compareIdentifiers(a.prerelease[i] ?? '', b.prerelease[i] ?? '');
    if (d !== 0) return d;
  }
  return Math.sign(a.prerelease.length - b.prerelease.length);
}

/** Free-form versions (not SemVer): compare runs of digits as numbers and the rest as text. */
function compareFreeForm(a: string, b: string): number {
  const chunks = (s: string) => s.toLowerCase().match(/\d+|\D+/g) ?? [];
  const ac = chunks(a);
  const bc = chunks(b);
  for (let i = 0; i < Math.min(ac.length, bc.length); i++) {
    const d = compareIdentifiers(ac[i] ?? '', bc[i] ?? '');
    if (d !== 0) return d;
  }
  return Math.sign(ac.length - bc.length);
}

/** -1, 0 or 1 as `a` is lower than, equal to or higher than `b` in Octopus's ordering. */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (pa && pb) return compareParsed(pa, pb);
  // A SemVer version sorts above free-form text (which Octopus cannot order meaningfully).
  if (pa || pb) return pa ? 1 : -1;
  return compareFreeForm(a, b);
}

export const versionAtLeast = (version: string, minimum: string): boolean =>
  compareVersions(version, minimum) >= 0;

interface Bound {
  version: string;
  inclusive: boolean;
}
/** A set of versions: an interval (NuGet notation, as Octopus channel rules use) or a list of comparators. */
export interface VersionRange {
  text: string;
  /** Alternatives (`||`); a version matches if it is inside any of them. */
  alternatives: Array<{ min?: Bound; max?: Bound }>;
}

export class VersionRangeError extends Error {}

function checkVersion(text: string, range: string): string {
  const v = text.trim();
  if (!parseVersion(v)) {
    throw new VersionRangeError(
      `"${v}" in the range "${range}" is not a version (expected e.g. 2.3 or 2.3.0-beta.1)`,
    );
  }
  return v;
}

/** `[1.0,2.0)`, `(,2.0]`, `[1.2.3]`, or a bare `1.0` (meaning 1.0 or higher, as in NuGet). */
function parseInterval(text: string, range: string): { min?: Bound; max?: Bound } {
  const t = text.trim();
  if (!/^[[(]/.test(t)) return { min: { version: checkVersion(t, range), inclusive: true } };
  const m = /^([[(])\s*([^,\])]*?)\s*(?:,\s*([^\])]*?)\s*)?([\])])$/.exec(t);
  if (!m)
    throw new VersionRangeError(`"${range}" is not a version range (e.g. [2.3,3.0) or >=2.3 <3.0)`);
  const [, open = '[', low = '', high, close = ']'] = m;
  if (high === undefined) {
    // [1.2.3] means exactly that version.
    if (open !== '[' || close !== ']' || low === '')
      throw new VersionRangeError(`"${range}": an exact version is written [1.2.3]`);
    const v = checkVersion(low, range);
    return { min: { version: v, inclusive: true }, max: { version: v, inclusive: true } };
  }
  const out: { min?: Bound; max?: Bound } = {};
  if (low !== '') out.min = { version: checkVersion(low, range), inclusive: open === '[' };
  if (high !== '') out.max = { version: checkVersion(high, range), inclusive: close === ']' };
  if (out.min && out.max && compareVersions(out.min.version, out.max.version) > 0) {
    throw new VersionRangeError(`"${range}": the lower bound is above the upper bound`);
  }
  return out;
}

/** `>=2.3 <3.0`, `>2`, `=2.3.1`, `*`. */
function parseComparators(text: string, range: string): { min?: Bound; max?: Bound } {
  const out: { min?: Bound; max?: Bound } = {};
  for (const token of text
    .trim()
    .replace(/(>=|<=|>|<|=)\s+/g, '$1')
    .split(/[\s,]+/)
    .filter(Boolean)) {
    if (token === '*') continue;
    const m = /^(>=|<=|>|<|=)?(.+)$/.exec(token);
    const op = m?.[1] ?? '=';
    const v = checkVersion(m?.[2] ?? token, range);
    if (op === '>=' || op === '>') out.min = { version: v, inclusive: op === '>=' };
    else if (op === '<=' || op === '<') out.max = { version: v, inclusive: op === '<=' };
    else {
      out.min = { version: v, inclusive: true };
      out.max = { version: v, inclusive: true };
    }
  }
  return out;
}

/** Parse a range; throws VersionRangeError saying what is wrong. */
export function parseVersionRange(text: string): VersionRange {
  const alternatives = text.split('||').map((part) => {
    const t = part.trim();
    if (t === '') throw new VersionRangeError(`"${text}" has an empty alternative`);
    return /^[<>=*]/.test(t) || /\s/.test(t) ? parseComparators(t, text) : parseInterval(t, text);
  });
  return { text, alternatives };
}

export function inRange(version: string, range: VersionRange | string): boolean {
  const r = typeof range === 'string' ? parseVersionRange(range) : range;
  return r.alternatives.some(({ min, max }) => {
    if (min) {
      const d = compareVersions(version, min.version);
      if (d < 0 || (d === 0 && !min.inclusive)) return false;
    }
    if (max) {
      const d = compareVersions(version, max.version);
      if (d > 0 || (d === 0 && !max.inclusive)) return false;
    }
    return true;
  });
}

/** The highest version in `versions` inside `range`, or undefined. */
export function highestInRange<T>(
  items: readonly T[],
  range: VersionRange | string,
  version: (item: T) => string,
): T | undefined {
  const r = typeof range === 'string' ? parseVersionRange(range) : range;
  let best: T | undefined;
  for (const item of items) {
    if (!inRange(version(item), r)) continue;
    if (best === undefined || compareVersions(version(item), version(best)) > 0) best = item;
  }
  return best;
}
