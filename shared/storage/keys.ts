// Encoding of arbitrary names (projects, tenants, lock names) into safe Table Storage keys.
import { createHash } from 'node:crypto';

/** Table Storage keys may be at most 1 KiB; Azurite rejects over 512 characters. We stay under both. */
export const maxKeyLength = 255;

// Characters Table Storage forbids in keys (/ \ # ?), control characters, % (our escape char), and
// lone UTF-16 surrogates: those insert fine (the key travels in the JSON body) but every later
// read, update or delete of the row puts the key in the URL, where encodeURIComponent throws
// "URI malformed" inside the SDK, so the row could never be touched again.
const unsafe =
  // eslint-disable-next-line no-control-regex
  /[%/\\#?\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Encode any string as a PartitionKey/RowKey: forbidden characters become %XX (so the encoding is
 * reversible and keeps sort order for plain names). Names whose encoding is too long are cut and
 * suffixed with a hash of the whole name, so distinct names never share a key.
 */
export function encodeKey(name: string): string {
  const encoded = name.replace(unsafe, (c) => {
    const code = c.charCodeAt(0);
    const hex = code.toString(16).toUpperCase();
    return code > 0xff ? `%u${hex.padStart(4, '0')}` : `%${hex.padStart(2, '0')}`;
  });
  if (encoded.length <= maxKeyLength) return encoded;
  // A lone surrogate would hash as U+FFFD (so distinct names could share a key): hash the encoded
  // form then, which is well formed. Well-formed names hash as before, so their keys do not move.
  const hashed = /%u/.test(encoded) ? encoded : name;
  const hash = createHash('sha256').update(hashed).digest('hex').slice(0, 32);
  return `${encoded.slice(0, maxKeyLength - 34)}~~${hash}`;
}

/** Reverse `encodeKey` for keys that were not shortened. */
export function decodeKey(key: string): string {
  return key.replace(/%u([0-9A-F]{4})|%([0-9A-F]{2})/g, (_, wide?: string, hex?: string) =>
    String.fromCharCode(parseInt(wide ?? hex ?? '0', 16)),
  );
}

/** A key that sorts in time order: a zero-padded number (e.g. a fence or ticket). */
export function paddedNumberKey(n: number, width = 15): string {
  return Math.floor(n).toString().padStart(width, '0');
}
