// JSON too long for one Table property (32 K characters) spread over numbered properties of one row.
import { EntityTooLargeError, maxStringPropertyChars } from './limits.js';

/** Default most parts: a row holds 252 properties; leave room for the others. */
const defaultMaxParts = 200;

/** `{ [name]: part0, [name + '1']: part1, ..., [name + 'Parts']: n }`. */
export function jsonParts(
  table: string,
  name: string,
  value: unknown,
  /** Lower it to keep the whole entity under 1 MiB when each part may be 32 K characters (64 KiB). */
  maxParts = defaultMaxParts,
): Record<string, string | number> {
  const json = JSON.stringify(value);
  const parts = Math.max(1, Math.ceil(json.length / maxStringPropertyChars));
  if (parts > maxParts)
    throw new EntityTooLargeError(
      table,
      `property ${name} needs ${parts} parts of JSON (${json.length} characters; at most ${maxParts} parts of ${maxStringPropertyChars})`,
    );
  const out: Record<string, string | number> = { [`${name}Parts`]: parts };
  for (let i = 0; i < parts; i++)
    out[i === 0 ? name : `${name}${i}`] = json.slice(
      i * maxStringPropertyChars,
      (i + 1) * maxStringPropertyChars,
    );
  return out;
}

/** Reassemble what `jsonParts` wrote (a row without the count is one plain property). */
export function fromJsonParts<T>(row: object, name: string): T {
  const fields = row as Record<string, unknown>;
  const count = typeof fields[`${name}Parts`] === 'number' ? (fields[`${name}Parts`] as number) : 1;
  let json = '';
  for (let i = 0; i < count; i++) {
    const part = fields[i === 0 ? name : `${name}${i}`];
    json += typeof part === 'string' ? part : '';
  }
  return JSON.parse(json || 'null') as T;
}
