/**
 * The Azure SQL / SQL Server part of the configuration: its variables (merged into the schema of config.ts),
 * the cross-field rules that apply when `TASKFLEET_STORE=mssql`, and the mapping both ways.
 */
import { z } from 'zod';
import { int } from './values';

const bool = z
  .string()
  .trim()
  .regex(/^(true|false)$/, 'must be true or false')
  .transform((s) => s === 'true');

/** A T-SQL identifier we can bracket-quote safely (it also names the sqlcmd variable's value). */
export const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export const mssqlVariables = {
  TASKFLEET_MSSQL_CONNECTION_STRING: z.string().trim().min(1).optional(),
  TASKFLEET_MSSQL_SERVER: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9._\\-]+$/, 'a host name (letters, digits, ".", "-"), optionally with \\instance')
    .optional(),
  TASKFLEET_MSSQL_PORT: int(1, 65535).default(1433),
  TASKFLEET_MSSQL_DATABASE: z.string().trim().min(1).max(128).optional(),
  TASKFLEET_MSSQL_AUTH: z.enum(['auto', 'entra', 'sql']).default('auto'),
  TASKFLEET_MSSQL_USER: z.string().trim().min(1).max(128).optional(),
  TASKFLEET_MSSQL_PASSWORD: z.string().min(1).optional(),
  TASKFLEET_MSSQL_ENCRYPT: bool.default(true),
  TASKFLEET_MSSQL_TRUST_SERVER_CERTIFICATE: bool.default(false),
  TASKFLEET_MSSQL_SCHEMA: z
    .string()
    .trim()
    .regex(SCHEMA_NAME, 'an identifier: a letter or "_", then letters, digits or "_" (at most 64)')
    .default('taskfleet'),
  TASKFLEET_MSSQL_POOL_MAX: int(1, 1000).default(10),
  TASKFLEET_MSSQL_POOL_MIN: int(0, 1000).default(0),
  TASKFLEET_MSSQL_CONNECT_TIMEOUT_MS: int(1000).default(15_000),
  TASKFLEET_MSSQL_REQUEST_TIMEOUT_MS: int(1000).default(30_000),
  TASKFLEET_MSSQL_RETRY_ATTEMPTS: int(1, 10).default(4),
  TASKFLEET_MSSQL_RETRY_BASE_MS: int(0).default(1_000),
  TASKFLEET_MSSQL_RETRY_MAX_MS: int(0).default(15_000),
  TASKFLEET_AZURE_CLIENT_ID: z
    .string()
    .trim()
    .regex(/^[0-9a-fA-F-]{36}$/, 'must be a client id (a GUID)')
    .optional(),
  TASKFLEET_KEY_VAULT_URL: z
    .url({ protocol: /^https$/ })
    .refine((u) => {
      try {
        return new URL(u).hostname !== '';
      } catch {
        return true;
      }
    }, 'must name a host')
    .optional(),
};

type MssqlEnv = z.output<z.ZodObject<typeof mssqlVariables>>;

/** How the mssql adapter reaches its database. Nothing here is used while `store` is `sqlite`. */
export interface MssqlConfig {
  /** An ADO.NET-style connection string or an `mssql://` URL; the discrete fields below fill what it leaves out. */
  connectionString: string | null;
  server: string | null;
  port: number;
  database: string | null;
  /** `entra`: the shared Azure credential; `sql`: user and password; `auto`: sql when a user is given. */
  auth: 'auto' | 'entra' | 'sql';
  user: string | null;
  password: string | null;
  encrypt: boolean;
  trustServerCertificate: boolean;
  /** The database schema that holds taskfleet's tables (the sqlcmd variable `Schema` of the migrations). */
  schema: string;
  /** Connections per process: the sum over every process must stay under the database's worker limit. */
  pool: { min: number; max: number };
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  /** Transient-fault retries: attempts in all, exponential backoff from baseMs capped at maxMs, equal jitter. */
  retry: { attempts: number; baseMs: number; maxMs: number };
}

export interface AzureConfig {
  /** Client id of a user-assigned managed identity; null: DefaultAzureCredential. */
  clientId: string | null;
  /** Where `kv://` references are resolved (they are resolved before the configuration is validated). */
  keyVaultUrl: string | null;
}

/** Problems (variable → message) of an mssql configuration; none while another store is chosen. */
export function mssqlIssues(e: MssqlEnv & { TASKFLEET_STORE: string }): Array<[string, string]> {
  const issues: Array<[string, string]> = [];
  if (e.TASKFLEET_MSSQL_POOL_MIN > e.TASKFLEET_MSSQL_POOL_MAX) {
    issues.push(['TASKFLEET_MSSQL_POOL_MIN', 'must be at most TASKFLEET_MSSQL_POOL_MAX']);
  }
  if (e.TASKFLEET_MSSQL_RETRY_MAX_MS < e.TASKFLEET_MSSQL_RETRY_BASE_MS) {
    issues.push(['TASKFLEET_MSSQL_RETRY_MAX_MS', 'must be at least TASKFLEET_MSSQL_RETRY_BASE_MS']);
  }
  if (e.TASKFLEET_STORE !== 'mssql' || e.TASKFLEET_MSSQL_CONNECTION_STRING !== undefined) return issues;
  if (e.TASKFLEET_MSSQL_SERVER === undefined) {
    issues.push([
      'TASKFLEET_MSSQL_SERVER',
      'required when TASKFLEET_STORE=mssql (or set TASKFLEET_MSSQL_CONNECTION_STRING)',
    ]);
  }
  if (e.TASKFLEET_MSSQL_DATABASE === undefined) {
    issues.push([
      'TASKFLEET_MSSQL_DATABASE',
      'required when TASKFLEET_STORE=mssql (or set TASKFLEET_MSSQL_CONNECTION_STRING)',
    ]);
  }
  if (e.TASKFLEET_MSSQL_AUTH === 'sql' && e.TASKFLEET_MSSQL_USER === undefined) {
    issues.push(['TASKFLEET_MSSQL_USER', 'required when TASKFLEET_MSSQL_AUTH=sql']);
  }
  const sqlAuth = e.TASKFLEET_MSSQL_AUTH === 'sql' || (e.TASKFLEET_MSSQL_AUTH === 'auto' && !!e.TASKFLEET_MSSQL_USER);
  if (sqlAuth && e.TASKFLEET_MSSQL_PASSWORD === undefined) {
    issues.push(['TASKFLEET_MSSQL_PASSWORD', 'required with SQL authentication (a secret: use a kv:// reference)']);
  }
  return issues;
}

export function toMssqlConfig(e: MssqlEnv): { mssql: MssqlConfig; azure: AzureConfig } {
  return {
    mssql: {
      connectionString: e.TASKFLEET_MSSQL_CONNECTION_STRING ?? null,
      server: e.TASKFLEET_MSSQL_SERVER ?? null,
      port: e.TASKFLEET_MSSQL_PORT,
      database: e.TASKFLEET_MSSQL_DATABASE ?? null,
      auth: e.TASKFLEET_MSSQL_AUTH,
      user: e.TASKFLEET_MSSQL_USER ?? null,
      password: e.TASKFLEET_MSSQL_PASSWORD ?? null,
      encrypt: e.TASKFLEET_MSSQL_ENCRYPT,
      trustServerCertificate: e.TASKFLEET_MSSQL_TRUST_SERVER_CERTIFICATE,
      schema: e.TASKFLEET_MSSQL_SCHEMA,
      pool: { min: e.TASKFLEET_MSSQL_POOL_MIN, max: e.TASKFLEET_MSSQL_POOL_MAX },
      connectTimeoutMs: e.TASKFLEET_MSSQL_CONNECT_TIMEOUT_MS,
      requestTimeoutMs: e.TASKFLEET_MSSQL_REQUEST_TIMEOUT_MS,
      retry: {
        attempts: e.TASKFLEET_MSSQL_RETRY_ATTEMPTS,
        baseMs: e.TASKFLEET_MSSQL_RETRY_BASE_MS,
        maxMs: e.TASKFLEET_MSSQL_RETRY_MAX_MS,
      },
    },
    azure: { clientId: e.TASKFLEET_AZURE_CLIENT_ID ?? null, keyVaultUrl: e.TASKFLEET_KEY_VAULT_URL ?? null },
  };
}

/** The variables of an mssql and Azure configuration, secrets left out and unset ones omitted. */
export function mssqlToEnv(m: MssqlConfig, a: AzureConfig): Record<string, string> {
  const optional: Record<string, string | null> = {
    TASKFLEET_MSSQL_SERVER: m.server,
    TASKFLEET_MSSQL_DATABASE: m.database,
    TASKFLEET_MSSQL_USER: m.user,
    TASKFLEET_AZURE_CLIENT_ID: a.clientId,
    TASKFLEET_KEY_VAULT_URL: a.keyVaultUrl,
  };
  return {
    ...Object.fromEntries(Object.entries(optional).flatMap(([k, v]) => (v === null ? [] : [[k, v]]))),
    TASKFLEET_MSSQL_PORT: String(m.port),
    TASKFLEET_MSSQL_AUTH: m.auth,
    TASKFLEET_MSSQL_ENCRYPT: String(m.encrypt),
    TASKFLEET_MSSQL_TRUST_SERVER_CERTIFICATE: String(m.trustServerCertificate),
    TASKFLEET_MSSQL_SCHEMA: m.schema,
    TASKFLEET_MSSQL_POOL_MAX: String(m.pool.max),
    TASKFLEET_MSSQL_POOL_MIN: String(m.pool.min),
    TASKFLEET_MSSQL_CONNECT_TIMEOUT_MS: String(m.connectTimeoutMs),
    TASKFLEET_MSSQL_REQUEST_TIMEOUT_MS: String(m.requestTimeoutMs),
    TASKFLEET_MSSQL_RETRY_ATTEMPTS: String(m.retry.attempts),
    TASKFLEET_MSSQL_RETRY_BASE_MS: String(m.retry.baseMs),
    TASKFLEET_MSSQL_RETRY_MAX_MS: String(m.retry.maxMs),
  };
}

/** The variables mssqlToEnv leaves out while they are unset. */
export const OPTIONAL_MSSQL_VARIABLES = [
  'TASKFLEET_MSSQL_SERVER',
  'TASKFLEET_MSSQL_DATABASE',
  'TASKFLEET_MSSQL_USER',
  'TASKFLEET_AZURE_CLIENT_ID',
  'TASKFLEET_KEY_VAULT_URL',
] as const;
