import { inspect } from 'node:util';
import {
  CONFIG_VARIABLES,
  SECRET_VARIABLES,
  configToEnv,
  dataKeyEnv,
  loadConfig,
  withoutSecrets,
  type Config,
} from '../../src/config/config';
import { OPTIONAL_MSSQL_VARIABLES } from '../../src/config/mssql';
import { ConfigError, TaskfleetError } from '../../src/domain/errors';
import { DataKeyRing } from '../../src/security/dataKeys';

const MSSQL_DEFAULTS: Config['mssql'] = {
  connectionString: null,
  server: null,
  port: 1433,
  database: null,
  auth: 'auto',
  user: null,
  password: null,
  encrypt: true,
  trustServerCertificate: false,
  schema: 'taskfleet',
  pool: { min: 0, max: 10 },
  connectTimeoutMs: 15_000,
  requestTimeoutMs: 30_000,
  retry: { attempts: 4, baseMs: 1_000, maxMs: 15_000 },
};

const DAY_MS = 86_400_000;

const DEFAULTS: Config = {
  port: 8080,
  host: '0.0.0.0',
  redisUrl: 'redis://127.0.0.1:6379',
  redisPrefix: 'taskfleet',
  redisCommandTimeoutMs: 5_000,
  store: 'sqlite',
  sqlitePath: './data/taskfleet.db',
  sqliteSynchronous: 'full',
  mssql: MSSQL_DEFAULTS,
  azure: { clientId: null, keyVaultUrl: null },
  leaseDurationMs: 30_000,
  heartbeatIntervalMs: 5_000,
  heartbeatThresholds: { warnAfter: 3, suspendAfter: 5, freezeAfter: 10 },
  reconcileIntervalMs: 5_000,
  stallAfterMs: 60_000,
  reaperIntervalMs: 1_000,
  schedulerIntervalMs: 1_000,
  routeRefreshMs: 1_000,
  watchPollMs: 1_000,
  agentClaimPollMs: 1_000,
  routeGateMs: 250,
  unroutableExpireAfterMs: 0,
  agentMetrics: { intervalMs: 60_000, keepMs: 86_400_000 },
  streamStallMs: 10_000,
  dispatchBatch: 10,
  spillAfterMs: 1_000,
  pools: [],
  defaultMaxAttempts: 3,
  backoff: { baseMs: 1_000, maxMs: 300_000 },
  defaultTimeoutSeconds: 300,
  maxPayloadBytes: 256 * 1024,
  maxBodyBytes: 32 * 1024 * 1024,
  resultMaxBytes: 1024 * 1024,
  checksumRoot: null,
  drainTimeoutMs: 25_000,
  logLevel: 'info',
  logFormat: 'json',
  appInsightsConnectionString: null,
  telemetryFile: null,
  apiUrl: 'http://127.0.0.1:8080',
  adminApiKey: null,
  rateLimit: { perSecond: 200, burst: 400 },
  apiKey: null,
  dataKeys: null,
  webhooks: { allowHosts: [], retryForMs: 24 * 3_600_000 },
  retention: {
    succeededMs: 7 * DAY_MS,
    deadMs: 30 * DAY_MS,
    agentsMs: 7 * DAY_MS,
    auditMs: 365 * DAY_MS,
    batch: 1_000,
    pauseMs: 100,
    intervalMs: 60_000,
  },
};

/** Two keys in the shape `taskfleet keys generate` makes (tfk_ + 43 base64url characters). */
const ADMIN_KEY = 'tfk_' + 'A'.repeat(40) + '-_9';
const CLIENT_KEY = 'tfk_' + 'b'.repeat(43);
/** Two data keys, k2 writing (32 bytes each, base64). */
const DATA_KEY = `k2:${Buffer.alloc(32, 2).toString('base64')},k1:${Buffer.alloc(32, 1).toString('base64')}`;

/** Loads `env`, expects a ConfigError and returns it. */
function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

/** The variables named on the problem lines of a ConfigError message. */
const namedVariables = (err: Error) => [...err.message.matchAll(/^\s+(TASKFLEET_[A-Z_]+):/gm)].map((m) => m[1]);

describe('loadConfig defaults', () => {
  it('gives the documented defaults for an empty environment', () => {
    expect(loadConfig({})).toStrictEqual(DEFAULTS);
  });

  it('treats an empty string as unset', () => {
    const env = Object.fromEntries(CONFIG_VARIABLES.map((k) => [k, '']));
    expect(loadConfig(env)).toStrictEqual(DEFAULTS);
  });

  it("ignores variables it does not know outside its TASKFLEET_ namespace, and the test suite's own", () => {
    expect(
      loadConfig({ PATH: '/usr/bin', HOME: '/root', NODE_ENV: 'production', PORT: '1', TASKFLEET_TEST_LOG: 'debug' }),
    ).toStrictEqual(DEFAULTS);
  });

  it('derives the API URL from the port when TASKFLEET_URL is unset', () => {
    expect(loadConfig({ TASKFLEET_PORT: '9000' }).apiUrl).toBe('http://127.0.0.1:9000');
  });

  it('prefers TASKFLEET_URL over the derived API URL', () => {
    expect(loadConfig({ TASKFLEET_PORT: '9000', TASKFLEET_URL: 'https://fleet.example.com' }).apiUrl).toBe(
      'https://fleet.example.com',
    );
  });

  it('reads process.env when no environment is passed', () => {
    const saved = process.env.TASKFLEET_DEFAULT_MAX_ATTEMPTS;
    process.env.TASKFLEET_DEFAULT_MAX_ATTEMPTS = '7';
    try {
      expect(loadConfig().defaultMaxAttempts).toBe(7);
    } finally {
      if (saved === undefined) delete process.env.TASKFLEET_DEFAULT_MAX_ATTEMPTS;
      else process.env.TASKFLEET_DEFAULT_MAX_ATTEMPTS = saved;
    }
  });

  it('applies overrides last, over the environment', () => {
    const c = loadConfig({ TASKFLEET_PORT: '9000', TASKFLEET_LOG_LEVEL: 'debug' }, { port: 0, logLevel: 'silent' });
    expect(c.port).toBe(0);
    expect(c.logLevel).toBe('silent');
    expect(c.apiUrl).toBe('http://127.0.0.1:9000');
  });
});

describe('loadConfig parsing', () => {
  it('reads every variable into its field', () => {
    const c = loadConfig({
      TASKFLEET_PORT: '0',
      TASKFLEET_HOST: '127.0.0.1',
      TASKFLEET_REDIS_URL: 'rediss://user:secret@redis.internal:6380/2',
      TASKFLEET_REDIS_PREFIX: 'tf.test_1-a',
      TASKFLEET_REDIS_COMMAND_TIMEOUT_MS: '100',
      TASKFLEET_STORE: 'mssql',
      TASKFLEET_SQLITE_PATH: ':memory:',
      TASKFLEET_SQLITE_SYNCHRONOUS: 'normal',
      TASKFLEET_MSSQL_CONNECTION_STRING:
        'Server=tcp:db.example.net,1433;Database=tf;Authentication=Active Directory Default',
      TASKFLEET_MSSQL_SERVER: 'sql.internal',
      TASKFLEET_MSSQL_PORT: '14330',
      TASKFLEET_MSSQL_DATABASE: 'taskfleet_prod',
      TASKFLEET_MSSQL_AUTH: 'sql',
      TASKFLEET_MSSQL_USER: 'tf_supervisor',
      TASKFLEET_MSSQL_PASSWORD: 'not-a-real-password',
      TASKFLEET_MSSQL_ENCRYPT: 'false',
      TASKFLEET_MSSQL_TRUST_SERVER_CERTIFICATE: 'true',
      TASKFLEET_MSSQL_SCHEMA: 'tf_1',
      TASKFLEET_MSSQL_POOL_MAX: '25',
      TASKFLEET_MSSQL_POOL_MIN: '2',
      TASKFLEET_MSSQL_CONNECT_TIMEOUT_MS: '5000',
      TASKFLEET_MSSQL_REQUEST_TIMEOUT_MS: '60000',
      TASKFLEET_MSSQL_RETRY_ATTEMPTS: '6',
      TASKFLEET_MSSQL_RETRY_BASE_MS: '200',
      TASKFLEET_MSSQL_RETRY_MAX_MS: '4000',
      TASKFLEET_AZURE_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
      TASKFLEET_KEY_VAULT_URL: 'https://tf-vault.vault.azure.net',
      TASKFLEET_LEASE_DURATION_MS: '500',
      TASKFLEET_HEARTBEAT_INTERVAL_MS: '100',
      TASKFLEET_HEARTBEAT_THRESHOLDS: ' 2, 4 ,9',
      TASKFLEET_RECONCILE_INTERVAL_MS: '100',
      TASKFLEET_STALL_AFTER_MS: '0',
      TASKFLEET_REAPER_INTERVAL_MS: '50',
      TASKFLEET_SCHEDULER_INTERVAL_MS: '60',
      TASKFLEET_ROUTE_REFRESH_MS: '50',
      TASKFLEET_DISPATCH_BATCH: '25',
      TASKFLEET_POOLS: ' checksum+echo~fs, echo~,checksum+echo~fs,',
      TASKFLEET_DEFAULT_MAX_ATTEMPTS: '100',
      TASKFLEET_BACKOFF_BASE_MS: '0',
      TASKFLEET_BACKOFF_MAX_MS: '0',
      TASKFLEET_DEFAULT_TIMEOUT_SECONDS: '0.5',
      TASKFLEET_MAX_PAYLOAD_BYTES: '1',
      TASKFLEET_MAX_BODY_BYTES: '1',
      TASKFLEET_RESULT_MAX_BYTES: '1',
      TASKFLEET_CHECKSUM_ROOT: ' /srv/files ',
      TASKFLEET_DRAIN_TIMEOUT_MS: '0',
      TASKFLEET_SPILL_AFTER_MS: '250',
      TASKFLEET_LOG_LEVEL: 'silent',
      TASKFLEET_LOG_FORMAT: 'pretty',
      TASKFLEET_TELEMETRY_FILE: '/tmp/t.jsonl',
      APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=00000000-0000-0000-0000-000000000000',
      TASKFLEET_URL: 'http://localhost:1234',
      TASKFLEET_ADMIN_API_KEY: ADMIN_KEY,
      TASKFLEET_RATE_LIMIT_PER_SECOND: '0.5',
      TASKFLEET_RATE_LIMIT_BURST: '1',
      TASKFLEET_API_KEY: CLIENT_KEY,
      TASKFLEET_DATA_KEY: DATA_KEY,
      TASKFLEET_WEBHOOK_ALLOW_HOSTS: ' 127.0.0.1:8443, Hooks.Internal ,127.0.0.1:8443',
      TASKFLEET_WEBHOOK_RETRY_HOURS: '0.5',
      TASKFLEET_RETENTION_SUCCEEDED: '12h',
      TASKFLEET_RETENTION_DEAD: '0',
      TASKFLEET_RETENTION_AGENTS: '90m',
      TASKFLEET_RETENTION_AUDIT: '45s',
      TASKFLEET_PURGE_BATCH: '50',
      TASKFLEET_PURGE_PAUSE_MS: '0',
      TASKFLEET_PURGE_INTERVAL_MS: '100',
    });
    expect(c).toStrictEqual<Config>({
      port: 0,
      host: '127.0.0.1',
      redisUrl: 'rediss://user:secret@redis.internal:6380/2',
      redisPrefix: 'tf.test_1-a',
      redisCommandTimeoutMs: 100,
      store: 'mssql',
      sqlitePath: ':memory:',
      sqliteSynchronous: 'normal',
      mssql: {
        connectionString: 'Server=tcp:db.example.net,1433;Database=tf;Authentication=Active Directory Default',
        server: 'sql.internal',
        port: 14330,
        database: 'taskfleet_prod',
        auth: 'sql',
        user: 'tf_supervisor',
        password: 'not-a-real-password',
        encrypt: false,
        trustServerCertificate: true,
        schema: 'tf_1',
        pool: { min: 2, max: 25 },
        connectTimeoutMs: 5_000,
        requestTimeoutMs: 60_000,
        retry: { attempts: 6, baseMs: 200, maxMs: 4_000 },
      },
      azure: { clientId: '11111111-2222-3333-4444-555555555555', keyVaultUrl: 'https://tf-vault.vault.azure.net' },
      leaseDurationMs: 500,
      heartbeatIntervalMs: 100,
      heartbeatThresholds: { warnAfter: 2, suspendAfter: 4, freezeAfter: 9 },
      reconcileIntervalMs: 100,
      stallAfterMs: 0,
      reaperIntervalMs: 50,
      schedulerIntervalMs: 60,
      routeRefreshMs: 50,
      watchPollMs: 1_000,
      agentClaimPollMs: 1_000,
      routeGateMs: 250,
      unroutableExpireAfterMs: 0,
      agentMetrics: { intervalMs: 60_000, keepMs: 86_400_000 },
      streamStallMs: 10_000,
      dispatchBatch: 25,
      pools: ['checksum+echo~fs', 'echo~'],
      defaultMaxAttempts: 100,
      backoff: { baseMs: 0, maxMs: 0 },
      defaultTimeoutSeconds: 0.5,
      maxPayloadBytes: 1,
      maxBodyBytes: 1,
      resultMaxBytes: 1,
      checksumRoot: '/srv/files',
      drainTimeoutMs: 0,
      spillAfterMs: 250,
      logLevel: 'silent',
      logFormat: 'pretty',
      appInsightsConnectionString: 'InstrumentationKey=00000000-0000-0000-0000-000000000000',
      telemetryFile: '/tmp/t.jsonl',
      apiUrl: 'http://localhost:1234',
      adminApiKey: ADMIN_KEY,
      rateLimit: { perSecond: 0.5, burst: 1 },
      apiKey: CLIENT_KEY,
      dataKeys: DataKeyRing.parse(DATA_KEY),
      webhooks: { allowHosts: ['127.0.0.1:8443', 'hooks.internal'], retryForMs: 1_800_000 },
      retention: {
        succeededMs: 12 * 3_600_000,
        deadMs: 0,
        agentsMs: 90 * 60_000,
        auditMs: 45_000,
        batch: 50,
        pauseMs: 0,
        intervalMs: 100,
      },
    });
  });

  it('accepts the upper bounds', () => {
    const c = loadConfig({
      TASKFLEET_PORT: '65535',
      TASKFLEET_DEFAULT_MAX_ATTEMPTS: '100',
      TASKFLEET_DEFAULT_TIMEOUT_SECONDS: '86400',
      TASKFLEET_RATE_LIMIT_PER_SECOND: '1000000',
      TASKFLEET_RATE_LIMIT_BURST: '1000000',
    });
    expect([c.port, c.defaultMaxAttempts, c.defaultTimeoutSeconds]).toEqual([65535, 100, 86400]);
    expect(c.rateLimit).toEqual({ perSecond: 1_000_000, burst: 1_000_000 });
  });

  it.each(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const)('accepts log level %s', (level) => {
    expect(loadConfig({ TASKFLEET_LOG_LEVEL: level }).logLevel).toBe(level);
  });
});

describe('loadConfig rejects each invalid variable with a ConfigError naming it', () => {
  it.each([
    ['TASKFLEET_PORT', '65536'],
    ['TASKFLEET_PORT', '-1'],
    ['TASKFLEET_PORT', 'http'],
    ['TASKFLEET_PORT', '80.5'],
    ['TASKFLEET_REDIS_URL', 'http://127.0.0.1:6379'],
    ['TASKFLEET_REDIS_URL', 'not a url'],
    ['TASKFLEET_REDIS_PREFIX', 'has space'],
    ['TASKFLEET_REDIS_PREFIX', 'a:b'],
    ['TASKFLEET_REDIS_COMMAND_TIMEOUT_MS', '99'],
    ['TASKFLEET_STORE', 'postgres'],
    ['TASKFLEET_LEASE_DURATION_MS', '499'],
    ['TASKFLEET_LEASE_DURATION_MS', 'soon'],
    ['TASKFLEET_HEARTBEAT_INTERVAL_MS', '99'],
    ['TASKFLEET_HEARTBEAT_THRESHOLDS', '3,5'],
    ['TASKFLEET_HEARTBEAT_THRESHOLDS', '5,3,10'],
    ['TASKFLEET_HEARTBEAT_THRESHOLDS', '0,5,10'],
    ['TASKFLEET_HEARTBEAT_THRESHOLDS', '3,5,5'],
    ['TASKFLEET_RECONCILE_INTERVAL_MS', '99'],
    ['TASKFLEET_STALL_AFTER_MS', '-1'],
    ['TASKFLEET_STALL_AFTER_MS', '1m'],
    ['TASKFLEET_REAPER_INTERVAL_MS', '49'],
    ['TASKFLEET_SCHEDULER_INTERVAL_MS', '49'],
    ['TASKFLEET_ROUTE_REFRESH_MS', '49'],
    ['TASKFLEET_DISPATCH_BATCH', '0'],
    ['TASKFLEET_RETENTION_SUCCEEDED', '7'],
    ['TASKFLEET_RETENTION_SUCCEEDED', '7days'],
    ['TASKFLEET_RETENTION_DEAD', '-1d'],
    ['TASKFLEET_RETENTION_AUDIT', '1.5d'],
    ['TASKFLEET_PURGE_BATCH', '0'],
    ['TASKFLEET_PURGE_INTERVAL_MS', '99'],
    ['TASKFLEET_DISPATCH_BATCH', '101'],
    ['TASKFLEET_POOLS', 'echo'],
    ['TASKFLEET_POOLS', 'echo~fs,echo+checksum~fs'],
    ['TASKFLEET_DEFAULT_MAX_ATTEMPTS', '0'],
    ['TASKFLEET_DEFAULT_MAX_ATTEMPTS', '101'],
    ['TASKFLEET_DEFAULT_MAX_ATTEMPTS', '2.5'],
    ['TASKFLEET_BACKOFF_BASE_MS', '-1'],
    ['TASKFLEET_BACKOFF_MAX_MS', '-1'],
    ['TASKFLEET_DEFAULT_TIMEOUT_SECONDS', '0'],
    ['TASKFLEET_DEFAULT_TIMEOUT_SECONDS', '-5'],
    ['TASKFLEET_DEFAULT_TIMEOUT_SECONDS', '86401'],
    ['TASKFLEET_MAX_PAYLOAD_BYTES', '0'],
    ['TASKFLEET_MAX_BODY_BYTES', '0'],
    ['TASKFLEET_RESULT_MAX_BYTES', '0'],
    ['TASKFLEET_DRAIN_TIMEOUT_MS', '-1'],
    ['TASKFLEET_SPILL_AFTER_MS', '99'],
    ['TASKFLEET_LOG_LEVEL', 'verbose'],
    ['TASKFLEET_LOG_FORMAT', 'xml'],
    ['TASKFLEET_URL', 'ftp://fleet.example.com'],
    ['TASKFLEET_URL', 'localhost:8080'],
    ['TASKFLEET_PORT', ' '],
    ['TASKFLEET_PORT', '0x1F90'],
    ['TASKFLEET_LEASE_DURATION_MS', '1e3'],
    ['TASKFLEET_REDIS_URL', 'redis://'],
    ['TASKFLEET_HOST', '   '],
    ['TASKFLEET_LEASE_DURATON_MS', '1000'],
    ['TASKFLEET_ADMIN_API_KEY', 'too-short-to-be-a-key'],
    ['TASKFLEET_ADMIN_API_KEY', 'x'.repeat(31)],
    ['TASKFLEET_ADMIN_API_KEY', 'has a space in it but is long enough to be a key'],
    ['TASKFLEET_ADMIN_API_KEY', 'x'.repeat(513)],
    ['TASKFLEET_API_KEY', 'short'],
    ['TASKFLEET_API_KEY', `${'x'.repeat(40)}"`],
    ['TASKFLEET_RATE_LIMIT_PER_SECOND', '0'],
    ['TASKFLEET_RATE_LIMIT_PER_SECOND', '-1'],
    ['TASKFLEET_RATE_LIMIT_PER_SECOND', 'fast'],
    ['TASKFLEET_RATE_LIMIT_PER_SECOND', '1000001'],
    ['TASKFLEET_RATE_LIMIT_BURST', '0'],
    ['TASKFLEET_RATE_LIMIT_BURST', '2.5'],
    ['TASKFLEET_RATE_LIMIT_BURST', '1000001'],
    ['TASKFLEET_STORE', 'mysql'],
    ['TASKFLEET_MSSQL_PORT', '0'],
    ['TASKFLEET_MSSQL_SERVER', 'db.example.net;Database=x'],
    ['TASKFLEET_MSSQL_AUTH', 'kerberos'],
    ['TASKFLEET_MSSQL_ENCRYPT', 'yes'],
    ['TASKFLEET_MSSQL_TRUST_SERVER_CERTIFICATE', '1'],
    ['TASKFLEET_MSSQL_SCHEMA', 'dbo]; DROP TABLE x; --'],
    ['TASKFLEET_MSSQL_SCHEMA', '1tf'],
    ['TASKFLEET_MSSQL_POOL_MAX', '0'],
    ['TASKFLEET_MSSQL_POOL_MIN', '-1'],
    ['TASKFLEET_MSSQL_CONNECT_TIMEOUT_MS', '999'],
    ['TASKFLEET_MSSQL_RETRY_ATTEMPTS', '0'],
    ['TASKFLEET_MSSQL_RETRY_ATTEMPTS', '11'],
    ['TASKFLEET_AZURE_CLIENT_ID', 'my-identity'],
    ['TASKFLEET_KEY_VAULT_URL', 'http://tf.vault.azure.net'],
    ['TASKFLEET_DATA_KEY', Buffer.alloc(32).toString('base64')],
    ['TASKFLEET_DATA_KEY', `k1:${Buffer.alloc(16).toString('base64')}`],
    ['TASKFLEET_DATA_KEY', `k1:${Buffer.alloc(32).toString('base64url')}_`],
    ['TASKFLEET_DATA_KEY', `k 1:${Buffer.alloc(32).toString('base64')}`],
    ['TASKFLEET_DATA_KEY', `k1:${Buffer.alloc(32).toString('base64')},k1:${Buffer.alloc(32).toString('base64')}`],
  ])('%s=%p', (name, value) => {
    const err = configError({ [name]: value });
    expect(err).toBeInstanceOf(TaskfleetError);
    expect(err.code).toBe('config_invalid');
    expect(err.message).toMatch(/^invalid configuration:/);
    expect(namedVariables(err)).toEqual([name]);
  });

  it('names every bad variable when several are wrong, and only those', () => {
    const err = configError({
      TASKFLEET_PORT: 'eighty',
      TASKFLEET_HOST: 'fine.example.com',
      TASKFLEET_LOG_LEVEL: 'loud',
      TASKFLEET_DEFAULT_MAX_ATTEMPTS: '0',
      TASKFLEET_REDIS_URL: 'http://nope',
    });
    expect(namedVariables(err).sort()).toEqual([
      'TASKFLEET_DEFAULT_MAX_ATTEMPTS',
      'TASKFLEET_LOG_LEVEL',
      'TASKFLEET_PORT',
      'TASKFLEET_REDIS_URL',
    ]);
  });
});

describe('loadConfig TASKFLEET_POOLS', () => {
  it('reads a list of pool keys, trimmed and deduplicated', () => {
    expect(loadConfig({ TASKFLEET_POOLS: 'checksum+echo+fail+sleep~fs , echo~cuda+gpu' }).pools).toEqual([
      'checksum+echo+fail+sleep~fs',
      'echo~cuda+gpu',
    ]);
  });

  it.each(['echo', 'echo+checksum~fs', 'echo~FS', '~fs', 'echo~fs+fs'])(
    'names the bad key %p in the error, beside the variable',
    (bad) => {
      const err = configError({ TASKFLEET_POOLS: `checksum~fs,${bad}` });
      expect(err.message).toContain(`TASKFLEET_POOLS: "${bad}" is not a pool key`);
    },
  );
});

describe('loadConfig backoff bounds', () => {
  it('rejects a backoff maximum below the base', () => {
    const err = configError({ TASKFLEET_BACKOFF_BASE_MS: '5000', TASKFLEET_BACKOFF_MAX_MS: '4999' });
    expect(namedVariables(err)).toEqual(['TASKFLEET_BACKOFF_MAX_MS']);
    expect(err.message).toContain('TASKFLEET_BACKOFF_BASE_MS');
  });

  it('rejects a base above the default maximum', () => {
    expect(namedVariables(configError({ TASKFLEET_BACKOFF_BASE_MS: '300001' }))).toEqual(['TASKFLEET_BACKOFF_MAX_MS']);
  });

  it('accepts a maximum equal to the base', () => {
    expect(loadConfig({ TASKFLEET_BACKOFF_BASE_MS: '2000', TASKFLEET_BACKOFF_MAX_MS: '2000' }).backoff).toEqual({
      baseMs: 2000,
      maxMs: 2000,
    });
  });
});

describe('configToEnv → loadConfig', () => {
  it('round-trips the defaults', () => {
    expect(loadConfig(configToEnv(DEFAULTS))).toStrictEqual(DEFAULTS);
  });

  it('round-trips a config with every field changed', () => {
    const custom: Config = {
      port: 18080,
      host: '127.0.0.1',
      redisUrl: 'rediss://redis.example.com:6380/3',
      redisPrefix: 'tf-test.1',
      redisCommandTimeoutMs: 2_500,
      store: 'mssql',
      sqlitePath: '/tmp/taskfleet/test.db',
      sqliteSynchronous: 'normal',
      mssql: {
        ...MSSQL_DEFAULTS,
        server: 'sql.example.net',
        port: 1444,
        database: 'fleet',
        auth: 'entra',
        encrypt: false,
        trustServerCertificate: true,
        schema: 'fleet_a',
        pool: { min: 1, max: 40 },
        connectTimeoutMs: 2_000,
        requestTimeoutMs: 9_000,
        retry: { attempts: 2, baseMs: 5, maxMs: 50 },
      },
      azure: { clientId: '11111111-2222-3333-4444-555555555555', keyVaultUrl: 'https://v.vault.azure.net/' },
      leaseDurationMs: 1_500,
      heartbeatIntervalMs: 250,
      heartbeatThresholds: { warnAfter: 1, suspendAfter: 2, freezeAfter: 3 },
      reconcileIntervalMs: 400,
      stallAfterMs: 1_000,
      reaperIntervalMs: 75,
      schedulerIntervalMs: 300,
      routeRefreshMs: 60,
      watchPollMs: 200,
      agentClaimPollMs: 1_000,
      routeGateMs: 250,
      unroutableExpireAfterMs: 0,
      agentMetrics: { intervalMs: 60_000, keepMs: 86_400_000 },
      streamStallMs: 2_000,
      dispatchBatch: 1,
      pools: ['echo~gpu', 'checksum+sleep~'],
      defaultMaxAttempts: 7,
      backoff: { baseMs: 10, maxMs: 80 },
      defaultTimeoutSeconds: 2.5,
      maxPayloadBytes: 1_000,
      maxBodyBytes: 5_000,
      resultMaxBytes: 7_000,
      checksumRoot: '/data/in',
      drainTimeoutMs: 0,
      spillAfterMs: 400,
      logLevel: 'warn',
      logFormat: 'pretty',
      appInsightsConnectionString: null,
      telemetryFile: '/tmp/telemetry.jsonl',
      apiUrl: 'http://127.0.0.1:18080',
      adminApiKey: null,
      rateLimit: { perSecond: 12.5, burst: 30 },
      apiKey: null,
      dataKeys: null,
      webhooks: { allowHosts: ['127.0.0.1', 'receiver.internal:8080'], retryForMs: 7_200_000 },
      retention: {
        succeededMs: 1,
        deadMs: 0,
        agentsMs: 2 * DAY_MS,
        auditMs: 3_600_000,
        batch: 7,
        pauseMs: 5,
        intervalMs: 500,
      },
    };
    expect(loadConfig(configToEnv(custom))).toStrictEqual(custom);
  });

  it('leaves the keys out, so that no child process inherits them', () => {
    const withKeys = loadConfig({ TASKFLEET_ADMIN_API_KEY: ADMIN_KEY, TASKFLEET_API_KEY: CLIENT_KEY });
    const env = configToEnv(withKeys);
    for (const secret of SECRET_VARIABLES) expect(env).not.toHaveProperty(secret);
    expect(Object.values(env).join('\n')).not.toContain(ADMIN_KEY);
    expect(Object.values(env).join('\n')).not.toContain(CLIENT_KEY);
    expect(loadConfig(env)).toStrictEqual({ ...withKeys, adminApiKey: null, apiKey: null });
  });

  it('withoutSecrets strips the key variables from an environment and keeps the rest', () => {
    const env = {
      PATH: '/bin',
      TASKFLEET_ADMIN_API_KEY: ADMIN_KEY,
      TASKFLEET_API_KEY: CLIENT_KEY,
      TASKFLEET_PORT: '1',
    };
    expect(withoutSecrets(env)).toEqual({ PATH: '/bin', TASKFLEET_PORT: '1' });
    expect(env.TASKFLEET_ADMIN_API_KEY).toBe(ADMIN_KEY); // the input is not changed
  });

  it('names every variable but the keys, and the optional ones only when set', () => {
    const optional: string[] = [
      'TASKFLEET_TELEMETRY_FILE',
      'APPLICATIONINSIGHTS_CONNECTION_STRING',
      'TASKFLEET_CHECKSUM_ROOT',
      ...OPTIONAL_MSSQL_VARIABLES,
    ];
    expect(Object.keys(configToEnv(DEFAULTS)).sort()).toEqual(
      CONFIG_VARIABLES.filter(
        (v) => !(SECRET_VARIABLES as readonly string[]).includes(v) && !optional.includes(v),
      ).sort(),
    );
    const set = {
      ...DEFAULTS,
      telemetryFile: '/tmp/t.jsonl',
      appInsightsConnectionString: 'InstrumentationKey=x',
      checksumRoot: '/srv/files',
    };
    expect(configToEnv(set)).toMatchObject({
      TASKFLEET_TELEMETRY_FILE: '/tmp/t.jsonl',
      APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=x',
      TASKFLEET_CHECKSUM_ROOT: '/srv/files',
    });
  });

  it('keeps an API URL that is not derived from the port', () => {
    const c = loadConfig({ TASKFLEET_URL: 'https://api.example.com:8443' });
    expect(loadConfig(configToEnv(c))).toStrictEqual(c);
  });

  it('round-trips a loaded config unchanged', () => {
    const c = loadConfig({ TASKFLEET_PORT: '0', TASKFLEET_LOG_LEVEL: 'silent', TASKFLEET_BACKOFF_BASE_MS: '20' });
    expect(loadConfig(configToEnv(c))).toStrictEqual(c);
  });

  it('produces only string values for TASKFLEET_ variables', () => {
    for (const [k, v] of Object.entries(configToEnv(DEFAULTS))) {
      expect(k).toMatch(/^TASKFLEET_[A-Z_]+$/);
      expect(typeof v).toBe('string');
    }
  });
});

describe('loadConfig with TASKFLEET_STORE=mssql', () => {
  const entra = { TASKFLEET_STORE: 'mssql', TASKFLEET_MSSQL_SERVER: 'db.example.net', TASKFLEET_MSSQL_DATABASE: 'tf' };

  it('accepts a server and database with Entra ID (the default when no user is given)', () => {
    const c = loadConfig(entra);
    expect(c.store).toBe('mssql');
    expect(c.mssql).toMatchObject({ server: 'db.example.net', database: 'tf', auth: 'auto', user: null });
  });

  it('accepts a connection string alone', () => {
    const c = loadConfig({ TASKFLEET_STORE: 'mssql', TASKFLEET_MSSQL_CONNECTION_STRING: 'Server=x;Database=y' });
    expect(c.mssql.connectionString).toBe('Server=x;Database=y');
  });

  it('names the server and the database when neither they nor a connection string are set', () => {
    expect(namedVariables(configError({ TASKFLEET_STORE: 'mssql' })).sort()).toEqual([
      'TASKFLEET_MSSQL_DATABASE',
      'TASKFLEET_MSSQL_SERVER',
    ]);
  });

  it('asks for a user and a password with SQL authentication, never printing the password', () => {
    expect(namedVariables(configError({ ...entra, TASKFLEET_MSSQL_AUTH: 'sql' })).sort()).toEqual([
      'TASKFLEET_MSSQL_PASSWORD',
      'TASKFLEET_MSSQL_USER',
    ]);
    expect(namedVariables(configError({ ...entra, TASKFLEET_MSSQL_USER: 'tf' }))).toEqual(['TASKFLEET_MSSQL_PASSWORD']);
    const ok = loadConfig({ ...entra, TASKFLEET_MSSQL_USER: 'tf', TASKFLEET_MSSQL_PASSWORD: 'pw' });
    expect(ok.mssql).toMatchObject({ user: 'tf', password: 'pw' });
  });

  it('checks the pool and retry bounds against each other', () => {
    expect(namedVariables(configError({ TASKFLEET_MSSQL_POOL_MIN: '11' }))).toEqual(['TASKFLEET_MSSQL_POOL_MIN']);
    expect(namedVariables(configError({ TASKFLEET_MSSQL_RETRY_BASE_MS: '20000' }))).toEqual([
      'TASKFLEET_MSSQL_RETRY_MAX_MS',
    ]);
  });

  it('ignores the mssql connection rules while the store is sqlite', () => {
    expect(loadConfig({ TASKFLEET_MSSQL_AUTH: 'sql' }).store).toBe('sqlite');
  });

  it('keeps the password and the connection string out of child environments', () => {
    const c = loadConfig({
      ...entra,
      TASKFLEET_MSSQL_USER: 'tf',
      TASKFLEET_MSSQL_PASSWORD: 'pw-secret',
      TASKFLEET_MSSQL_CONNECTION_STRING: 'Server=x;Password=cs-secret',
    });
    const env = configToEnv(c);
    expect(Object.values(env).join('\n')).not.toMatch(/pw-secret|cs-secret/);
    expect(SECRET_VARIABLES).toEqual(
      expect.arrayContaining(['TASKFLEET_MSSQL_PASSWORD', 'TASKFLEET_MSSQL_CONNECTION_STRING']),
    );
  });
});

describe('TASKFLEET_DATA_KEY', () => {
  it('reads several keys, the first one writing, and never shows their material', () => {
    const c = loadConfig({ TASKFLEET_DATA_KEY: ` ${DATA_KEY} ` });
    expect(c.dataKeys?.writeKeyId).toBe('k2');
    expect(c.dataKeys?.keyIds).toEqual(['k2', 'k1']);
    expect(c.dataKeys?.key('k1')).toEqual(Buffer.alloc(32, 1));
    const shown = `${JSON.stringify(c)}\n${inspect(c, { depth: 9 })}`;
    expect(shown).not.toContain(Buffer.alloc(32, 1).toString('base64'));
    expect(shown).not.toContain(Buffer.alloc(32, 2).toString('base64'));
  });

  it('is a secret: configToEnv leaves it out, dataKeyEnv passes it on explicitly', () => {
    const c = loadConfig({ TASKFLEET_DATA_KEY: DATA_KEY });
    expect(configToEnv(c)).not.toHaveProperty('TASKFLEET_DATA_KEY');
    expect(withoutSecrets({ TASKFLEET_DATA_KEY: DATA_KEY })).toEqual({});
    expect(dataKeyEnv(c)).toEqual({ TASKFLEET_DATA_KEY: DATA_KEY });
    expect(loadConfig(dataKeyEnv(c)).dataKeys?.keyIds).toEqual(['k2', 'k1']);
    expect(dataKeyEnv(DEFAULTS)).toEqual({});
  });

  it('says what is wrong with a malformed key without quoting it', () => {
    const material = Buffer.alloc(16, 7).toString('base64');
    const err = configError({ TASKFLEET_DATA_KEY: `k1:${material}` });
    expect(err.message).toMatch(/TASKFLEET_DATA_KEY: key 1 \("k1"\): must be exactly 32 bytes in standard base64/);
    expect(err.message).not.toContain(material);
  });
});
