/**
 * From the configuration to mssql's pool settings: where the database is (a connection string, the discrete
 * variables, or both: the string wins where it says something), how to log in (Entra ID through the process's
 * one shared Azure credential, or SQL authentication), and the pool's limits. Messages name variables and
 * settings, never their values: a connection string may hold a password.
 */
import type { TokenCredential } from '@azure/identity';
import type { config as PoolConfig } from 'mssql';
import type { AzureConfig, MssqlConfig } from '../../config/config';
import { ConfigError } from '../../domain/errors';

export type AuthMode = 'entra' | 'sql';

/** What a connection string says (every field optional). */
export interface ParsedConnectionString {
  server?: string;
  port?: number;
  instanceName?: string;
  database?: string;
  user?: string;
  password?: string;
  encrypt?: boolean;
  trustServerCertificate?: boolean;
  authentication?: AuthMode;
  /** `Authentication=Active Directory Managed Identity`: `User Id` is the identity's client id. */
  managedIdentity?: boolean;
}

const VARIABLE = 'TASKFLEET_MSSQL_CONNECTION_STRING';

function bad(message: string): ConfigError {
  return new ConfigError(`invalid configuration:\n  ${VARIABLE}: ${message}`);
}

function parseBool(key: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['true', 'yes', '1', 'strict', 'mandatory'].includes(v)) return true;
  if (['false', 'no', '0', 'optional'].includes(v)) return false;
  throw bad(`${key} must be true or false`);
}

function parsePort(value: string): number {
  const n = Number(value.trim());
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw bad('the port must be a whole number from 1 to 65535');
  return n;
}

/** ADO.NET `key=value;` pairs; values may be quoted with "…", '…' (doubled to escape) or {…}. */
export function splitPairs(text: string): Map<string, string> {
  const pairs = new Map<string, string>();
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /[\s;]/.test(text[i] ?? '')) i++;
    if (i >= text.length) break;
    const eq = text.indexOf('=', i);
    if (eq < 0) throw bad(`expected key=value at character ${i + 1}`);
    const key = text.slice(i, eq).trim().toLowerCase().replace(/\s+/g, ' ');
    i = eq + 1;
    while (text[i] === ' ') i++;
    const open = text[i];
    let value = '';
    if (open === '"' || open === "'" || open === '{') {
      const close = open === '{' ? '}' : open;
      i++;
      for (;;) {
        if (i >= text.length) throw bad(`a quoted value of "${key}" is not closed`);
        if (text[i] === close) {
          if (text[i + 1] === close) {
            value += close;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += text[i++];
      }
    } else {
      const end = text.indexOf(';', i);
      value = (end < 0 ? text.slice(i) : text.slice(i, end)).trim();
      i = end < 0 ? text.length : end;
    }
    pairs.set(key, value);
  }
  return pairs;
}

/** `tcp:host\instance,port` → its parts. */
function parseServer(value: string): Pick<ParsedConnectionString, 'server' | 'port' | 'instanceName'> {
  let rest = value.trim().replace(/^tcp:/i, '');
  const out: Pick<ParsedConnectionString, 'server' | 'port' | 'instanceName'> = {};
  const comma = rest.lastIndexOf(',');
  if (comma >= 0) {
    out.port = parsePort(rest.slice(comma + 1));
    rest = rest.slice(0, comma);
  }
  const slash = rest.indexOf('\\');
  if (slash >= 0) {
    out.instanceName = rest.slice(slash + 1).trim();
    rest = rest.slice(0, slash);
  }
  out.server = rest.trim();
  return out;
}

function parseAuthentication(value: string): Pick<ParsedConnectionString, 'authentication' | 'managedIdentity'> {
  const v = value.replace(/[\s_-]/g, '').toLowerCase();
  if (v === 'activedirectorydefault') return { authentication: 'entra' };
  if (v === 'activedirectorymanagedidentity' || v === 'activedirectorymsi') {
    return { authentication: 'entra', managedIdentity: true };
  }
  if (v === 'sqlpassword') return { authentication: 'sql' };
  throw bad(
    `Authentication "${value}" is not supported: use Active Directory Default, Active Directory Managed Identity or SqlPassword`,
  );
}

/** An `mssql://user:password@host:port/database?encrypt=…&trustServerCertificate=…&authentication=…` URL. */
function parseUrl(text: string): ParsedConnectionString {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad('not a valid mssql:// URL');
  }
  const out: ParsedConnectionString = { server: url.hostname };
  if (url.port) out.port = parsePort(url.port);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (database) out.database = database;
  if (url.username) out.user = decodeURIComponent(url.username);
  if (url.password) out.password = decodeURIComponent(url.password);
  for (const [key, value] of url.searchParams) {
    const k = key.toLowerCase();
    if (k === 'encrypt') out.encrypt = parseBool('encrypt', value);
    else if (k === 'trustservercertificate') out.trustServerCertificate = parseBool('trustServerCertificate', value);
    else if (k === 'authentication') {
      const mode = value.toLowerCase();
      if (mode === 'entra' || mode === 'sql') out.authentication = mode;
      else Object.assign(out, parseAuthentication(value));
    } else if (k === 'instancename') out.instanceName = value;
    else throw bad(`unknown URL parameter "${key}"`);
  }
  return out;
}

export function parseConnectionString(text: string): ParsedConnectionString {
  if (/^(mssql|sqlserver):\/\//i.test(text.trim())) return parseUrl(text.trim());
  const out: ParsedConnectionString = {};
  for (const [key, value] of splitPairs(text)) {
    switch (key) {
      case 'server':
      case 'data source':
      case 'address':
      case 'addr':
      case 'network address':
        Object.assign(out, parseServer(value));
        break;
      case 'port':
        out.port = parsePort(value);
        break;
      case 'database':
      case 'initial catalog':
        out.database = value;
        break;
      case 'user id':
      case 'uid':
      case 'user':
        out.user = value;
        break;
      case 'password':
      case 'pwd':
        out.password = value;
        break;
      case 'encrypt':
        out.encrypt = parseBool('Encrypt', value);
        break;
      case 'trustservercertificate':
      case 'trust server certificate':
        out.trustServerCertificate = parseBool('TrustServerCertificate', value);
        break;
      case 'authentication':
        Object.assign(out, parseAuthentication(value));
        break;
      default:
        // Settings with no meaning here (Persist Security Info, MultipleActiveResultSets, Connection Timeout, …)
        // are ignored: timeouts and pool sizes come from their own variables.
        break;
    }
  }
  return out;
}

/** Where and how to connect, once the string and the variables are merged and checked. */
export interface ConnectionTarget {
  server: string;
  port: number;
  instanceName: string | null;
  database: string;
  encrypt: boolean;
  trustServerCertificate: boolean;
  auth: { mode: 'entra'; clientId: string | null } | { mode: 'sql'; user: string; password: string };
}

export function resolveTarget(m: MssqlConfig, azure: AzureConfig): ConnectionTarget {
  const s = m.connectionString === null ? {} : parseConnectionString(m.connectionString);
  const server = s.server ?? m.server;
  const database = s.database ?? m.database;
  const user = s.user ?? m.user;
  const password = s.password ?? m.password;
  const problems: string[] = [];
  if (!server) problems.push('  TASKFLEET_MSSQL_SERVER: required (or Server in TASKFLEET_MSSQL_CONNECTION_STRING)');
  if (!database)
    problems.push('  TASKFLEET_MSSQL_DATABASE: required (or Database in TASKFLEET_MSSQL_CONNECTION_STRING)');
  const mode: AuthMode = m.auth !== 'auto' ? m.auth : (s.authentication ?? (user ? 'sql' : 'entra'));
  if (mode === 'sql' && (!user || !password)) {
    problems.push(
      '  TASKFLEET_MSSQL_USER / TASKFLEET_MSSQL_PASSWORD: SQL authentication needs both (or User Id and Password in TASKFLEET_MSSQL_CONNECTION_STRING)',
    );
  }
  if (problems.length > 0 || !server || !database) {
    throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
  }
  const clientId = azure.clientId ?? (s.managedIdentity && s.user ? s.user : null);
  return {
    server,
    port: s.port ?? m.port,
    instanceName: s.instanceName ?? null,
    database,
    encrypt: s.encrypt ?? m.encrypt,
    trustServerCertificate: s.trustServerCertificate ?? m.trustServerCertificate,
    auth: mode === 'sql' ? { mode, user: user ?? '', password: password ?? '' } : { mode, clientId },
  };
}

/**
 * How long tedious waits for the server to acknowledge the cancel it sends when a request times out. On a silent
 * connection (a NAT or load balancer dropped the flow without a reset, a failover left the socket open) no
 * acknowledgement ever comes: after this the driver destroys the connection and fails the request with a
 * ConnectionError ETIMEOUT, which errors.ts classifies as transient with its outcome unknown. So a request on a
 * silent connection fails within the request timeout plus this, the pool never hands that connection out again
 * (its socket is gone), and a retry runs on a fresh one. Set here rather than left to the driver's default (the
 * same 5 s) because the README promises it.
 */
export const MSSQL_CANCEL_TIMEOUT_MS = 5_000;

/**
 * mssql's pool settings. Entra ID: `token-credential` with the shared credential, so every connection the pool
 * opens (hours after start too) asks the credential, whose cache refreshes the token. Connections are validated
 * on acquire by socket state (no extra round trip). XACT_ABORT is on for every session.
 */
export function buildPoolConfig(
  m: MssqlConfig,
  target: ConnectionTarget,
  credential: (clientId: string | null) => TokenCredential,
): PoolConfig {
  return {
    server: target.server,
    ...(target.instanceName === null ? { port: target.port } : {}),
    database: target.database,
    connectionTimeout: m.connectTimeoutMs,
    requestTimeout: m.requestTimeoutMs,
    pool: {
      min: m.pool.min,
      max: m.pool.max,
      idleTimeoutMillis: 30_000,
      acquireTimeoutMillis: m.connectTimeoutMs + 5_000,
    },
    validateConnection: 'socket',
    options: {
      encrypt: target.encrypt,
      trustServerCertificate: target.trustServerCertificate,
      ...(target.instanceName === null ? {} : { instanceName: target.instanceName }),
      useUTC: true,
      appName: 'taskfleet',
      abortTransactionOnError: true,
      enableArithAbort: true,
      cancelTimeout: MSSQL_CANCEL_TIMEOUT_MS,
      maxRetriesOnTransientErrors: 3,
      connectionRetryInterval: 500,
    },
    authentication:
      target.auth.mode === 'entra'
        ? { type: 'token-credential', options: { credential: credential(target.auth.clientId) } }
        : { type: 'default', options: { userName: target.auth.user, password: target.auth.password } },
  };
}
