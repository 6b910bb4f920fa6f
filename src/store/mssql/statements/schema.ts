/** The store's own checks: liveness, and the schema version the migrations left. */
import { statement, TABLE } from '../statement';

/** PING: a round trip. Result: { ok: 1 }. */
export const PING = statement('PING', { idempotent: true, params: {}, text: 'SELECT 1 AS ok;' });

/**
 * SELECT_SCHEMA_VERSION: the highest migration recorded in the ledger, or null when the schema was never
 * deployed (the ledger's query is compiled only once the table is known to exist). Result: { version }.
 */
export const SELECT_SCHEMA_VERSION = statement('SELECT_SCHEMA_VERSION', {
  idempotent: true,
  params: {},
  text: `
IF OBJECT_ID(N'${TABLE.schemaVersion}', N'U') IS NULL
BEGIN
  SELECT CAST(NULL AS int) AS version;
END
ELSE
BEGIN
  SELECT MAX(version) AS version FROM ${TABLE.schemaVersion};
END;`,
});

/**
 * SELECT_SCHEMA_LEDGER: every migration recorded, in order; no rows when the schema was never deployed.
 * Result: { version, name } rows.
 */
export const SELECT_SCHEMA_LEDGER = statement('SELECT_SCHEMA_LEDGER', {
  idempotent: true,
  params: {},
  text: `
IF OBJECT_ID(N'${TABLE.schemaVersion}', N'U') IS NULL
BEGIN
  SELECT CAST(NULL AS int) AS version, CAST(NULL AS nvarchar(128)) AS name WHERE 1 = 0;
END
ELSE
BEGIN
  SELECT version, name FROM ${TABLE.schemaVersion} ORDER BY version;
END;`,
});
