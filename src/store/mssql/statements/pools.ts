/** Declared pools (src/domain/pool.ts). Twin of `sqlite/statements/pools.ts`. */
import { COLUMN_LENGTH, param, statement, TABLE, WRITE_PREAMBLE } from '../statement';

const POOL_COLUMNS = 'pool_key, capabilities, types, note, declared_by, declared_at';

/**
 * DECLARE_POOL: stores a declared pool unless its key exists (then nothing changes: declaring is idempotent),
 * and answers the row as stored with `created` (1 when this batch inserted it).
 * Race-safety: the key is read WITH (UPDLOCK, HOLDLOCK), so two declarations of one key take turns.
 * Params: @key, @capabilities (JSON), @types (JSON), @note, @declaredBy, @declaredAt. Result: the row and created.
 */
export const DECLARE_POOL = statement('DECLARE_POOL', {
  idempotent: false,
  params: {
    key: param.varchar(COLUMN_LENGTH.poolKey),
    capabilities: param.json,
    types: param.json,
    note: param.nvarchar(COLUMN_LENGTH.note),
    declaredBy: param.nvarchar(COLUMN_LENGTH.keyId),
    declaredAt: param.time,
  },
  text: `
${WRITE_PREAMBLE}
DECLARE @created bit = 0;
BEGIN TRANSACTION;
IF NOT EXISTS (SELECT 1 FROM ${TABLE.pools} WITH (UPDLOCK, HOLDLOCK, ROWLOCK) WHERE pool_key = @key)
BEGIN
  INSERT INTO ${TABLE.pools} (pool_key, capabilities, types, note, declared_by, declared_at)
  VALUES (@key, @capabilities, @types, @note, @declaredBy, @declaredAt);
  SET @created = 1;
END;
SELECT ${POOL_COLUMNS}, @created AS created FROM ${TABLE.pools} WHERE pool_key = @key;
COMMIT TRANSACTION;`,
});

/** SELECT_POOLS: every declared pool, by key (the clustered key; a few rows). Result: pool rows. */
export const SELECT_POOLS = statement('SELECT_POOLS', {
  idempotent: true,
  params: {},
  text: `SELECT ${POOL_COLUMNS} FROM ${TABLE.pools} ORDER BY pool_key;`,
});

/** DELETE_POOL: removes a declaration. Params: @key. Result: { pool_key }, or none when unknown. */
export const DELETE_POOL = statement('DELETE_POOL', {
  idempotent: false,
  params: { key: param.varchar(COLUMN_LENGTH.poolKey) },
  text: `DELETE FROM ${TABLE.pools} OUTPUT deleted.pool_key WHERE pool_key = @key;`,
});
