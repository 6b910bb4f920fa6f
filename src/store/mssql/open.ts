/**
 * Opening the mssql store: a connection pool for the configuration, then a check of the schema version.
 *
 * The schema is deployed beforehand (`npm run db:deploy` or scripts/deploy-schema.sh), never at start: opening
 * checks the version in the ledger and refuses a database the migrations have not reached.
 */
import type { TokenCredential } from '@azure/identity';
import sql from 'mssql';
import { azureCredential } from '../../config/azure';
import type { Config } from '../../config/config';
import type { Store } from '../port';
import { SqlClient } from './client';
import { buildPoolConfig, resolveTarget } from './connection';
import { MssqlStore } from './mssqlStore';
import { withTransientRetry, type RetryHooks } from './retry';
import { SELECT_SCHEMA_VERSION } from './statements/schema';

/** The migrations this build needs (sql/migrations/0001 … 0010). */
export const REQUIRED_SCHEMA_VERSION = 18;

export interface OpenMssqlOptions {
  /** The Azure credential for Entra ID (default: the process's shared one). */
  credential?: (clientId: string | null) => TokenCredential;
  hooks?: RetryHooks;
}

/**
 * A connected pool for `config` (Entra ID through the shared credential unless `opts.credential` says
 * otherwise). Opening is retried on transient faults like any statement.
 */
export async function openPool(
  config: Pick<Config, 'mssql' | 'azure'>,
  opts: OpenMssqlOptions & { poolMax?: number; requestTimeoutMs?: number } = {},
): Promise<{ pool: sql.ConnectionPool; database: string }> {
  const m = {
    ...config.mssql,
    ...(opts.poolMax === undefined ? {} : { pool: { min: 0, max: opts.poolMax } }),
    ...(opts.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: opts.requestTimeoutMs }),
  };
  const target = resolveTarget(m, config.azure);
  const pool = new sql.ConnectionPool(buildPoolConfig(m, target, opts.credential ?? azureCredential));
  // The pool also emits failures it reports through rejections; without a listener an 'error' would crash.
  pool.on('error', () => undefined);
  await withTransientRetry('CONNECT', () => pool.connect(), { idempotent: true, policy: m.retry, hooks: opts.hooks });
  return { pool, database: target.database };
}

export async function openMssqlStore(config: Config, opts: OpenMssqlOptions = {}): Promise<Store> {
  const m = config.mssql;
  const { pool, database } = await openPool(config, opts);
  const client = new SqlClient(pool, m.schema, m.retry, opts.hooks);
  try {
    const row = await client.one<never, { version: number | null }>(SELECT_SCHEMA_VERSION, {});
    const version = row?.version ?? null;
    if (version === null || version < REQUIRED_SCHEMA_VERSION) {
      const found = version === null ? 'has no taskfleet schema' : `has schema version ${version}`;
      throw new Error(
        `mssql: database ${database}, schema ${m.schema} ${found}; this build needs version ${REQUIRED_SCHEMA_VERSION}: ` +
          'deploy it first with `npm run db:deploy` or scripts/deploy-schema.sh (the store never migrates on its own)',
      );
    }
  } catch (err) {
    await client.close();
    throw err;
  }
  return new MssqlStore(client);
}
