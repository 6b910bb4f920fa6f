/** Declared pools (src/domain/pool.ts). Twin of `mssql/statements/pools.ts`. Parameters are named (`@name`). */
import type { Database } from 'better-sqlite3';
import type { PoolRow } from '../rows';

/**
 * DECLARE_POOL: stores a declared pool unless its key exists (then nothing changes: declaring is idempotent).
 * Params: @key, @capabilities (JSON), @types (JSON), @note, @declaredBy, @declaredAt. Changes: 1 created, 0 existing.
 */
export const DECLARE_POOL = `
INSERT INTO pools (pool_key, capabilities, types, note, declared_by, declared_at)
VALUES (@key, @capabilities, @types, @note, @declaredBy, @declaredAt)
ON CONFLICT (pool_key) DO NOTHING`;

/** SELECT_POOL: one declared pool (primary key). Params: @key. Result: the row or none. */
export const SELECT_POOL = `SELECT * FROM pools WHERE pool_key = @key`;

/** SELECT_POOLS: every declared pool, by key (the primary key; a few rows). Result: pool rows. */
export const SELECT_POOLS = `SELECT * FROM pools ORDER BY pool_key`;

/** DELETE_POOL: removes a declaration. Params: @key. Changes: 0|1 (0 when unknown). */
export const DELETE_POOL = `DELETE FROM pools WHERE pool_key = @key`;

export interface PoolParams {
  key: string;
  capabilities: string;
  types: string;
  note: string | null;
  declaredBy: string;
  declaredAt: number;
}

export function preparePoolStatements(db: Database) {
  return {
    declarePool: db.prepare<PoolParams>(DECLARE_POOL),
    selectPool: db.prepare<{ key: string }, PoolRow>(SELECT_POOL),
    selectPools: db.prepare<[], PoolRow>(SELECT_POOLS),
    deletePool: db.prepare<{ key: string }>(DELETE_POOL),
  };
}

export type PoolStatements = ReturnType<typeof preparePoolStatements>;
