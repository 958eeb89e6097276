// Size limits of Table Storage, enforced in our code because Azurite does not enforce them all.

/** A string property may hold 64 KiB = 32 K UTF-16 code units. */
export const maxStringPropertyChars = 32 * 1024;
/** An entity may be 1 MiB in all; we keep a margin for keys and metadata. */
export const maxEntityBytes = 1024 * 1024 - 16 * 1024;
/** 255 properties including PartitionKey, RowKey and Timestamp. */
export const maxCustomProperties = 252;

export class EntityTooLargeError extends Error {
  constructor(
    readonly table: string,
    message: string,
  ) {
    super(`Cannot store entity in table ${table}: ${message}`);
    this.name = 'EntityTooLargeError';
  }
}

/** Throw EntityTooLargeError if the entity would be refused by Azure Table Storage. */
export function assertEntityFits(table: string, entity: Record<string, unknown>): void {
  const keys = Object.keys(entity).filter(
    (k) => k !== 'partitionKey' && k !== 'rowKey' && k !== 'etag',
  );
  if (keys.length > maxCustomProperties) {
    throw new EntityTooLargeError(
      table,
      `${keys.length} properties (at most ${maxCustomProperties})`,
    );
  }
  let bytes = 0;
  for (const key of keys) {
    const value = entity[key];
    bytes += key.length * 2 + 8;
    if (typeof value === 'string') {
      if (value.length > maxStringPropertyChars) {
        throw new EntityTooLargeError(
          table,
          `property ${key} is ${value.length} characters (at most ${maxStringPropertyChars})`,
        );
      }
      bytes += value.length * 2;
    } else if (value instanceof Uint8Array) {
      if (value.byteLength > 64 * 1024) {
        throw new EntityTooLargeError(table, `binary property ${key} is over 64 KiB`);
      }
      bytes += value.byteLength;
    } else {
      bytes += 8;
    }
  }
  if (bytes > maxEntityBytes) {
    throw new EntityTooLargeError(table, `about ${bytes} bytes (at most ${maxEntityBytes})`);
  }
}

/** Serialize a value as JSON for one string property, refusing what would not fit. */
export function toJsonProperty(table: string, property: string, value: unknown): string {
  const json = JSON.stringify(value);
  if (json.length > maxStringPropertyChars) {
    throw new EntityTooLargeError(
      table,
      `property ${property} would be ${json.length} characters of JSON (at most ${maxStringPropertyChars})`,
    );
  }
  return json;
}
