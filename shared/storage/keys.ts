// Encoding of arbitrary names (projects, tenants, lock names) into safe Table Storage keys.
import { createHash } from 'node:crypto';

/** Table Storage keys may be at most 1 KiB; Azurite rejects over 512 characters. We stay under both. */
export const maxKeyLength = 255;

// Characters Table Storage forbids in keys (/ \ # ?), control characters, and % (our escape char).
// eslint-disable-next-line no-control-regex
const unsafe = /[%/\\#?\u0000-\u001f\u007f-\u009f]/g;

/**
 * Encode any string as a PartitionKey/RowKey: forbidden characters become %XX (so the encoding is
 * reversible and keeps sort order for plain names). Names whose encoding is too long are cut and
 * suffixed with a hash of the whole name, so distinct names never share a key.
 */
export function encodeKey(name: string): string {
  const encoded = name.replace(unsafe, (c) => {
    const code = c.charCodeAt(0);
    return `%${code.toString(16).toUpperCase().padStart(2, '0')}`;
  });
  if (encoded.length <= maxKeyLength) return encoded;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 32);
  return `${encoded.slice(0, maxKeyLength - 34)}~~${hash}`;
}

/** Reverse `encodeKey` for keys that were not shortened. */
export function decodeKey(key: string): string {
  return key.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** A key that sorts in time order: a zero-padded number (e.g. a fence or ticket). */
export function paddedNumberKey(n: number, width = 15): string {
  return Math.floor(n).toString().padStart(width, '0');
}
