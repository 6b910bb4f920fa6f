/**
 * From configuration to mssql pool settings, for each way of connecting: connection strings (ADO.NET and
 * mssql:// URLs), discrete variables, Entra ID (DefaultAzureCredential or a managed identity, one shared
 * credential) and SQL authentication. No connection is made.
 */
import type { TokenCredential } from '@azure/identity';
import { loadConfig, type Config } from '../../src/config/config';
import { ConfigError } from '../../src/domain/errors';
import {
  buildPoolConfig,
  MSSQL_CANCEL_TIMEOUT_MS,
  parseConnectionString,
  resolveTarget,
  splitPairs,
} from '../../src/store/mssql/connection';

const credential: TokenCredential = {
  getToken: async () => ({ token: 't', expiresOnTimestamp: Date.now() + 3600_000 }),
};

function config(env: Record<string, string>): Config {
  return loadConfig({ TASKFLEET_STORE: 'mssql', ...env });
}

function target(env: Record<string, string>) {
  const c = config(env);
  return resolveTarget(c.mssql, c.azure);
}

describe('parseConnectionString', () => {
  it('reads an Azure SQL connection string with Entra ID', () => {
    expect(
      parseConnectionString(
        'Server=tcp:tf.database.windows.net,1433;Initial Catalog=taskfleet;Encrypt=True;TrustServerCertificate=False;' +
          'Authentication="Active Directory Default";Connection Timeout=30',
      ),
    ).toEqual({
      server: 'tf.database.windows.net',
      port: 1433,
      database: 'taskfleet',
      encrypt: true,
      trustServerCertificate: false,
      authentication: 'entra',
    });
  });

  it('reads SQL authentication, with quoted values holding ; and = and doubled quotes', () => {
    expect(
      parseConnectionString(`Data Source=localhost,14330;Database=tf;User Id=sa;Password="p;w=""d";Encrypt=no`),
    ).toEqual({
      server: 'localhost',
      port: 14330,
      database: 'tf',
      user: 'sa',
      password: 'p;w="d',
      encrypt: false,
    });
    expect(splitPairs("pwd={a}}b};uid='it''s'")).toEqual(
      new Map([
        ['pwd', 'a}b'],
        ['uid', "it's"],
      ]),
    );
  });

  it('reads a named instance and a managed identity with its client id', () => {
    expect(
      parseConnectionString(
        'Server=host\\SQL2022;Database=tf;Authentication=Active Directory Managed Identity;User Id=abc',
      ),
    ).toEqual({
      server: 'host',
      instanceName: 'SQL2022',
      database: 'tf',
      authentication: 'entra',
      managedIdentity: true,
      user: 'abc',
    });
  });

  it('reads an mssql:// URL (the form of TASKFLEET_TEST_MSSQL_URL)', () => {
    expect(
      parseConnectionString('mssql://sa:Str0ng%3BPass@127.0.0.1:1433/master?encrypt=false&trustServerCertificate=true'),
    ).toEqual({
      server: '127.0.0.1',
      port: 1433,
      database: 'master',
      user: 'sa',
      password: 'Str0ng;Pass',
      encrypt: false,
      trustServerCertificate: true,
    });
    expect(parseConnectionString('sqlserver://db.example.net/tf?authentication=entra')).toMatchObject({
      server: 'db.example.net',
      authentication: 'entra',
    });
  });

  it.each([
    [
      'Server=x;Authentication=Active Directory Interactive',
      /Authentication "Active Directory Interactive" is not supported/,
    ],
    ['Server=x;Encrypt=maybe', /Encrypt must be true or false/],
    ['Server=x,99999', /port/],
    ['Server=x;Password="unterminated', /is not closed/],
    ['just text', /expected key=value/],
    ['mssql://h/db?colour=blue', /unknown URL parameter "colour"/],
  ])('refuses %p with a ConfigError naming the variable', (text, message) => {
    expect(() => parseConnectionString(text)).toThrow(ConfigError);
    expect(() => parseConnectionString(text)).toThrow(message);
    expect(() => parseConnectionString(text)).toThrow(/TASKFLEET_MSSQL_CONNECTION_STRING/);
  });

  it('never puts a password into an error message', () => {
    try {
      parseConnectionString('Server=x;Password=hunter2-secret;Encrypt=perhaps');
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2-secret');
    }
  });
});

describe('resolveTarget', () => {
  const discrete = { TASKFLEET_MSSQL_SERVER: 'db.example.net', TASKFLEET_MSSQL_DATABASE: 'tf' };

  it('uses Entra ID (DefaultAzureCredential) when no user is given', () => {
    expect(target(discrete)).toEqual({
      server: 'db.example.net',
      port: 1433,
      instanceName: null,
      database: 'tf',
      encrypt: true,
      trustServerCertificate: false,
      auth: { mode: 'entra', clientId: null },
    });
  });

  it('uses a managed identity when TASKFLEET_AZURE_CLIENT_ID is set, or the string names one', () => {
    const id = '11111111-2222-3333-4444-555555555555';
    expect(target({ ...discrete, TASKFLEET_AZURE_CLIENT_ID: id }).auth).toEqual({ mode: 'entra', clientId: id });
    const fromString = target({
      TASKFLEET_MSSQL_CONNECTION_STRING: `Server=s;Database=d;Authentication=Active Directory MSI;User Id=${id}`,
    });
    expect(fromString.auth).toEqual({ mode: 'entra', clientId: id });
  });

  it('uses SQL authentication when a user is given, or when asked', () => {
    const sqlAuth = target({ ...discrete, TASKFLEET_MSSQL_USER: 'tf', TASKFLEET_MSSQL_PASSWORD: 'pw' });
    expect(sqlAuth.auth).toEqual({ mode: 'sql', user: 'tf', password: 'pw' });
    const fromString = target({ TASKFLEET_MSSQL_CONNECTION_STRING: 'Server=s;Database=d;User Id=u;Password=p' });
    expect(fromString.auth).toEqual({ mode: 'sql', user: 'u', password: 'p' });
  });

  it('lets TASKFLEET_MSSQL_AUTH override what the string implies', () => {
    const t = target({
      TASKFLEET_MSSQL_AUTH: 'entra',
      TASKFLEET_MSSQL_CONNECTION_STRING: 'Server=s;Database=d;User Id=u',
    });
    expect(t.auth.mode).toBe('entra');
  });

  it('takes what the string says over the variables, and the variables for the rest', () => {
    const t = target({
      ...discrete,
      TASKFLEET_MSSQL_PORT: '1500',
      TASKFLEET_MSSQL_TRUST_SERVER_CERTIFICATE: 'true',
      TASKFLEET_MSSQL_CONNECTION_STRING: 'Server=other.example.net;Encrypt=false',
    });
    expect(t).toMatchObject({
      server: 'other.example.net',
      database: 'tf',
      port: 1500,
      encrypt: false,
      trustServerCertificate: true,
    });
  });

  it('names what is missing from a connection string', () => {
    expect(() => target({ TASKFLEET_MSSQL_CONNECTION_STRING: 'Encrypt=true' })).toThrow(
      /TASKFLEET_MSSQL_SERVER: required[\s\S]*TASKFLEET_MSSQL_DATABASE: required/,
    );
    expect(() =>
      target({ TASKFLEET_MSSQL_AUTH: 'sql', TASKFLEET_MSSQL_CONNECTION_STRING: 'Server=s;Database=d;User Id=u' }),
    ).toThrow(/SQL authentication needs both/);
  });
});

describe('buildPoolConfig', () => {
  it('gives every pooled connection the one shared credential (token-credential), never a fixed token', () => {
    const c = config({ TASKFLEET_MSSQL_SERVER: 's', TASKFLEET_MSSQL_DATABASE: 'd', TASKFLEET_MSSQL_POOL_MAX: '7' });
    const asked: Array<string | null> = [];
    const pool = buildPoolConfig(c.mssql, resolveTarget(c.mssql, c.azure), (id) => {
      asked.push(id);
      return credential;
    });
    expect(pool.authentication).toEqual({ type: 'token-credential', options: { credential } });
    expect(asked).toEqual([null]);
    expect(pool).toMatchObject({
      server: 's',
      port: 1433,
      database: 'd',
      connectionTimeout: 15_000,
      requestTimeout: 30_000,
      validateConnection: 'socket',
      pool: { min: 0, max: 7, acquireTimeoutMillis: 20_000 },
      options: { encrypt: true, trustServerCertificate: false, useUTC: true, abortTransactionOnError: true },
    });
  });

  it('bounds the wait for a cancel acknowledgement, so a request on a silent connection fails and drops it', () => {
    const c = config({ TASKFLEET_MSSQL_SERVER: 's', TASKFLEET_MSSQL_DATABASE: 'd' });
    const pool = buildPoolConfig(c.mssql, resolveTarget(c.mssql, c.azure), () => credential);
    expect(pool.options).toMatchObject({ cancelTimeout: MSSQL_CANCEL_TIMEOUT_MS });
    expect(MSSQL_CANCEL_TIMEOUT_MS).toBeGreaterThan(0);
  });

  it('passes a managed identity client id to the credential factory', () => {
    const id = '11111111-2222-3333-4444-555555555555';
    const c = config({ TASKFLEET_MSSQL_SERVER: 's', TASKFLEET_MSSQL_DATABASE: 'd', TASKFLEET_AZURE_CLIENT_ID: id });
    const asked: Array<string | null> = [];
    buildPoolConfig(c.mssql, resolveTarget(c.mssql, c.azure), (clientId) => {
      asked.push(clientId);
      return credential;
    });
    expect(asked).toEqual([id]);
  });

  it('uses SQL authentication with user and password, and a named instance without a port', () => {
    const c = config({
      TASKFLEET_MSSQL_CONNECTION_STRING:
        'Server=host\\inst;Database=d;User Id=u;Password=p;TrustServerCertificate=true',
    });
    const pool = buildPoolConfig(c.mssql, resolveTarget(c.mssql, c.azure), () => credential);
    expect(pool.authentication).toEqual({ type: 'default', options: { userName: 'u', password: 'p' } });
    expect(pool.port).toBeUndefined();
    expect(pool.options).toMatchObject({ instanceName: 'inst', trustServerCertificate: true });
  });
});
