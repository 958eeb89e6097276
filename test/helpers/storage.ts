// Test helpers for Table Storage: each suite gets its own tables (a unique prefix) in the shared Azurite.
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { TableStore } from '../../shared/storage/tableStore.js';

export function azuriteConnectionString(): string {
  return inject('azuriteConnectionString');
}

/** A unique table-name prefix (letters only first, as table names must start with a letter). */
export function uniqueTablePrefix(): string {
  return `t${randomBytes(4).toString('hex')}`;
}

export function tableStoreForTest(prefix = uniqueTablePrefix()): TableStore {
  return new TableStore(
    { kind: 'connectionString', connectionString: azuriteConnectionString() },
    prefix,
  );
}
