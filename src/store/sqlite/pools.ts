/** Declared pools of the SQLite adapter. Twin of the pools methods of `mssql/mssqlStore.ts`. */
import type { DeclaredPool } from '../../domain/pool';
import { poolParams, toPool } from './rows';
import type { SqliteStatements } from './statements';

/** Inside one write transaction: the insert and the read of the stored row see the same state. */
export function declarePool(
  statements: SqliteStatements,
  pool: DeclaredPool,
): { pool: DeclaredPool; created: boolean } {
  const created = statements.pools.declarePool.run(poolParams(pool)).changes === 1;
  const row = statements.pools.selectPool.get({ key: pool.key });
  if (!row) throw new Error(`sqlite: pool ${pool.key} is not stored after DECLARE_POOL`);
  return { pool: toPool(row), created };
}

export function listDeclaredPools(statements: SqliteStatements): DeclaredPool[] {
  return statements.pools.selectPools.all().map(toPool);
}

export function removeDeclaredPool(statements: SqliteStatements, key: string): boolean {
  return statements.pools.deletePool.run({ key }).changes === 1;
}
