/**
 * The store's own checks. Twin of `mssql/statements/schema.ts`; the schema itself (its migrations, applied at
 * open) is in `../schema.ts`, and its version is `PRAGMA user_version` rather than a ledger table.
 */
import type { Database } from 'better-sqlite3';

/** PING: a liveness probe. Result: { ok: 1 }. */
export const PING = `SELECT 1 AS ok`;

export function prepareSchemaStatements(db: Database) {
  return { ping: db.prepare<[], { ok: number }>(PING) };
}

export type SchemaStatements = ReturnType<typeof prepareSchemaStatements>;
