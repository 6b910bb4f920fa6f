/**
 * Configuration, resolved once: documented defaults, then the environment, validated with zod, into a type
 * in which every field is required. `process.env` is read here and nowhere else; `.env.example` lists
 * every variable.
 */
import { z } from 'zod';
import { ConfigError, ValidationError } from '../domain/errors';
import { parsePoolKey } from '../domain/pool';
import { DataKeyRing, dataKeyProblem } from '../security/dataKeys';
import { mssqlIssues, mssqlToEnv, mssqlVariables, toMssqlConfig, type AzureConfig, type MssqlConfig } from './mssql';
import { retentionToEnv, retentionVariables, toRetentionConfig, type RetentionConfig } from './retention';
import { duration, int } from './values';

export type { AzureConfig, MssqlConfig } from './mssql';
export type { RetentionConfig } from './retention';

const seconds = z
  .string()
  .trim()
  .regex(/^\d+(\.\d+)?$/, 'must be a number of seconds')
  .transform(Number)
  .pipe(z.number().positive().max(86_400));

/** A decimal number with an optional fraction, e.g. "200" or "0.5". */
const decimal = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, 'must be a number')
    .transform(Number)
    .pipe(z.number().min(min).max(max));

/**
 * An API key as a Bearer token: at least 32 characters of the RFC 6750 token alphabet. Keys made by
 * `taskfleet keys create` or `keys generate` (`tfk_` + 43 base64url characters) always qualify.
 */
const apiKey = z
  .string()
  .min(32, 'must be at least 32 characters (make one with: taskfleet keys generate)')
  .max(512, 'must be at most 512 characters')
  .regex(/^[A-Za-z0-9._~+/-]+=*$/, 'letters, digits and - . _ ~ + / only (it is sent as a Bearer token)');

const urlWithHost = (protocol: RegExp) =>
  z.url({ protocol }).refine((u) => {
    // Only judged once it parses as a URL at all; the url check reports that case.
    try {
      return new URL(u).hostname !== '';
    } catch {
      return true;
    }
  }, 'must name a host');

/** A comma-separated list of pool keys (`<type>+<type>~<cap>+<cap>`), each as `poolKey` writes it; deduplicated. */
const poolKeys = z
  .string()
  .transform((text) => [...new Set(text.split(',').map((k) => k.trim()))].filter((k) => k !== ''))
  .superRefine((keys, ctx) => {
    for (const key of keys) {
      try {
        parsePoolKey(key);
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        const why = 'a sorted, deduplicated, lower-case list of types, "~", then of capabilities, joined by "+"';
        ctx.addIssue({ code: 'custom', message: `"${key}" is not a pool key: ${why} (e.g. checksum+echo~fs)` });
        return;
      }
    }
  });

const schema = z.object({
  TASKFLEET_PORT: int(0, 65535).default(8080),
  TASKFLEET_HOST: z.string().trim().min(1).default('0.0.0.0'),
  TASKFLEET_REDIS_URL: urlWithHost(/^rediss?$/).default('redis://127.0.0.1:6379'),
  TASKFLEET_REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, ".", "_" or "-"')
    .default('taskfleet'),
  TASKFLEET_REDIS_COMMAND_TIMEOUT_MS: int(100).default(5_000),
  TASKFLEET_STORE: z.enum(['sqlite', 'mssql']).default('sqlite'),
  TASKFLEET_SQLITE_PATH: z.string().min(1).default('./data/taskfleet.db'),
  TASKFLEET_SQLITE_SYNCHRONOUS: z.enum(['full', 'normal']).default('full'),
  ...mssqlVariables,
  TASKFLEET_LEASE_DURATION_MS: int(500).default(30_000),
  TASKFLEET_HEARTBEAT_INTERVAL_MS: int(100).default(5_000),
  TASKFLEET_HEARTBEAT_THRESHOLDS: z
    .string()
    .trim()
    .regex(/^\d+\s*,\s*\d+\s*,\s*\d+$/, 'must be three whole numbers: warn,suspend,freeze (e.g. 3,5,10)')
    .transform((s) => s.split(',').map((n) => Number(n.trim())))
    .refine(
      ([w = 0, s = 0, f = 0]) => w >= 1 && w < s && s < f,
      'must be increasing and at least 1: warn < suspend < freeze',
    )
    .default([3, 5, 10]),
  TASKFLEET_RECONCILE_INTERVAL_MS: int(100).default(5_000),
  TASKFLEET_STALL_AFTER_MS: int(0).default(60_000),
  TASKFLEET_REAPER_INTERVAL_MS: int(50).default(1_000),
  TASKFLEET_SCHEDULER_INTERVAL_MS: int(50).default(1_000),
  TASKFLEET_ROUTE_REFRESH_MS: int(50).default(1_000),
  TASKFLEET_WATCH_POLL_MS: int(50).default(1_000),
  TASKFLEET_AGENT_CLAIM_POLL_MS: int(50).default(1_000),
  TASKFLEET_ROUTE_GATE_MS: int(20).default(250),
  TASKFLEET_UNROUTABLE_EXPIRE_AFTER: duration.default(0),
  TASKFLEET_AGENT_METRICS_INTERVAL_MS: int(1_000).default(60_000),
  TASKFLEET_AGENT_METRICS_KEEP_MS: int(60_000).default(86_400_000),
  TASKFLEET_STREAM_STALL_MS: int(100).default(10_000),
  TASKFLEET_DISPATCH_BATCH: int(1, 100).default(10),
  TASKFLEET_SPILL_AFTER_MS: int(100).default(1_000),
  TASKFLEET_POOLS: poolKeys.default([]),
  TASKFLEET_DEFAULT_MAX_ATTEMPTS: int(1, 100).default(3),
  TASKFLEET_BACKOFF_BASE_MS: int(0).default(1_000),
  TASKFLEET_BACKOFF_MAX_MS: int(0).default(300_000),
  TASKFLEET_DEFAULT_TIMEOUT_SECONDS: seconds.default(300),
  TASKFLEET_MAX_PAYLOAD_BYTES: int(1).default(256 * 1024),
  TASKFLEET_MAX_BODY_BYTES: int(1).default(32 * 1024 * 1024),
  TASKFLEET_RESULT_MAX_BYTES: int(1).default(1024 * 1024),
  TASKFLEET_CHECKSUM_ROOT: z.string().trim().min(1).optional(),
  TASKFLEET_DRAIN_TIMEOUT_MS: int(0).default(25_000),
  TASKFLEET_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TASKFLEET_LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  TASKFLEET_TELEMETRY_FILE: z.string().trim().min(1).optional(),
  APPLICATIONINSIGHTS_CONNECTION_STRING: z.string().trim().min(1).optional(),
  TASKFLEET_URL: urlWithHost(/^https?$/).optional(),
  TASKFLEET_ADMIN_API_KEY: apiKey.optional(),
  TASKFLEET_RATE_LIMIT_PER_SECOND: decimal(0.001, 1_000_000).default(200),
  TASKFLEET_RATE_LIMIT_BURST: int(1, 1_000_000).default(400),
  TASKFLEET_API_KEY: apiKey.optional(),
  TASKFLEET_WEBHOOK_ALLOW_HOSTS: z
    .string()
    .transform((text) => [...new Set(text.split(',').map((h) => h.trim().toLowerCase()))].filter((h) => h !== ''))
    .pipe(z.array(z.string().regex(/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/, 'host names, maybe host:port')))
    .default([]),
  TASKFLEET_WEBHOOK_RETRY_HOURS: decimal(0, 168).default(24),
  ...retentionVariables,
  TASKFLEET_DATA_KEY: z
    .string()
    .trim()
    .superRefine((text, ctx) => {
      const problem = dataKeyProblem(text);
      if (problem !== null)
        ctx.addIssue({ code: 'custom', message: `${problem} (format: id:<base64>,id:<base64>, the first one writes)` });
    })
    .transform((text) => DataKeyRing.parse(text))
    .optional(),
});

/** Every variable the configuration reads. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape);

/** Variables that hold keys or passwords: never passed on to child processes, never logged. */
export const SECRET_VARIABLES = [
  'TASKFLEET_ADMIN_API_KEY',
  'TASKFLEET_API_KEY',
  'TASKFLEET_MSSQL_PASSWORD',
  'TASKFLEET_MSSQL_CONNECTION_STRING',
  'TASKFLEET_DATA_KEY',
] as const;

type Env = z.output<typeof schema>;

export interface Config {
  port: number;
  host: string;
  redisUrl: string;
  redisPrefix: string;
  /** The deadline of every non-blocking Redis command; a connection silent for as long is replaced. */
  redisCommandTimeoutMs: number;
  store: 'sqlite' | 'mssql';
  sqlitePath: string;
  /** `full` fsyncs every commit (survives a power cut); `normal` only at checkpoints (survives a killed process). */
  sqliteSynchronous: 'full' | 'normal';
  /** Azure SQL / SQL Server (used when `store` is `mssql`). */
  mssql: MssqlConfig;
  /** The Azure credential (Entra ID) and Key Vault. */
  azure: AzureConfig;
  leaseDurationMs: number;
  heartbeatIntervalMs: number;
  /** Missed heartbeats before an agent is warned, suspended and frozen. */
  heartbeatThresholds: { warnAfter: number; suspendAfter: number; freezeAfter: number };
  reconcileIntervalMs: number;
  /**
   * How long a due task may wait beside a live agent with free slots that covers it before the supervisor asks
   * that agent to recycle its Redis connections (and, after as long again, marks it degraded); 0: never.
   */
  stallAfterMs: number;
  reaperIntervalMs: number;
  /** How often each supervisor looks for due schedules (src/supervisor/scheduler.ts). */
  schedulerIntervalMs: number;
  routeRefreshMs: number;
  /** How often each supervisor's task watcher reads the event log without a notification (a lost one only delays). */
  watchPollMs: number;
  /** How often an HTTP agent's waiting claim looks in SQL without a work doorbell (a delayed task becoming due). */
  agentClaimPollMs: number;
  /** How often each supervisor reads the route controls and rings for the routes they hold (routeGate.ts). */
  routeGateMs: number;
  /** Queued tasks nothing could run for this long are expired (0: never, the default). */
  unroutableExpireAfterMs: number;
  /** Each agent's metrics history: one sample per interval, kept this long. */
  agentMetrics: { intervalMs: number; keepMs: number };
  /** How long an event stream's client may leave the server unable to write before it is disconnected. */
  streamStallMs: number;
  /** Most due tasks of one route and priority carried by one BullMQ job. */
  dispatchBatch: number;
  /** How long a due task waits in a busy pool before the supervisor moves it to a covering pool with a free slot. */
  spillAfterMs: number;
  /** Pool keys the supervisor declares at start (declared by `config`); config pools no longer listed are removed. */
  pools: string[];
  defaultMaxAttempts: number;
  backoff: { baseMs: number; maxMs: number };
  defaultTimeoutSeconds: number;
  maxPayloadBytes: number;
  maxBodyBytes: number;
  /** Largest result a handler may return, in bytes of JSON; a larger one fails its task for good. */
  resultMaxBytes: number;
  /** The directory the `checksum` handler may read under; null: the worker's working directory. */
  checksumRoot: string | null;
  drainTimeoutMs: number;
  logLevel: Env['TASKFLEET_LOG_LEVEL'];
  logFormat: Env['TASKFLEET_LOG_FORMAT'];
  /** Application Insights connection string (a secret); telemetry goes to Azure only when it is set. */
  appInsightsConnectionString: string | null;
  /** A JSON-lines file every telemetry item is appended to (local debugging, tests). */
  telemetryFile: string | null;
  /** Where `taskfleet submit` and `status` find the API. */
  apiUrl: string;
  /** The bootstrap admin key the supervisor accepts besides the keys in the store (a secret). */
  adminApiKey: string | null;
  /** Per API key and supervisor process: a token bucket refilled at `perSecond` holding up to `burst`. */
  rateLimit: { perSecond: number; burst: number };
  /** The key `taskfleet submit` and `status` send (a secret). */
  apiKey: string | null;
  /** The keys that seal sensitive tasks (TASKFLEET_DATA_KEY, a secret); null when none is configured. */
  dataKeys: DataKeyRing | null;
  /** Webhooks (src/webhooks): hosts that may be private and plain http, and how long a delivery is retried. */
  webhooks: { allowHosts: string[]; retryForMs: number };
  /** How long finished rows are kept (0: for ever) and how the supervisor's purge deletes them (src/supervisor/purge.ts). */
  retention: RetentionConfig;
}

function invalidConfiguration(lines: string[]): ConfigError {
  return new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
}

/** A misspelt variable would otherwise be ignored silently (TASKFLEET_TEST_* belong to the test suite). */
function rejectUnknownVariables(env: NodeJS.ProcessEnv): void {
  const unknown = Object.keys(env).filter(
    (k) => k.startsWith('TASKFLEET_') && !k.startsWith('TASKFLEET_TEST_') && !(k in schema.shape),
  );
  if (unknown.length > 0) {
    throw invalidConfiguration(unknown.map((k) => `  ${k}: unknown variable (see .env.example)`));
  }
}

/** The known variables, set and not empty, validated; one line per bad variable: its first problem. */
function parseVariables(env: NodeJS.ProcessEnv): Env {
  const known = Object.fromEntries(
    Object.keys(schema.shape).flatMap((k) => (env[k] !== undefined && env[k] !== '' ? [[k, env[k]]] : [])),
  );
  const parsed = schema.safeParse(known);
  if (parsed.success) return parsed.data;
  const byVariable = new Map<string, string>();
  for (const issue of parsed.error.issues)
    if (!byVariable.has(String(issue.path[0]))) byVariable.set(String(issue.path[0]), issue.message);
  throw invalidConfiguration([...byVariable].map(([k, message]) => `  ${k}: ${message}`));
}

/** Rules between variables, which the schema checks one at a time. */
function rejectInconsistentVariables(values: Env): void {
  const issues = mssqlIssues(values);
  if (values.TASKFLEET_BACKOFF_MAX_MS < values.TASKFLEET_BACKOFF_BASE_MS) {
    issues.unshift(['TASKFLEET_BACKOFF_MAX_MS', 'must be at least TASKFLEET_BACKOFF_BASE_MS']);
  }
  if (issues.length > 0) throw invalidConfiguration(issues.map(([k, m]) => `  ${k}: ${m}`));
}

function toConfig(values: Env): Config {
  return {
    port: values.TASKFLEET_PORT,
    host: values.TASKFLEET_HOST,
    redisUrl: values.TASKFLEET_REDIS_URL,
    redisPrefix: values.TASKFLEET_REDIS_PREFIX,
    redisCommandTimeoutMs: values.TASKFLEET_REDIS_COMMAND_TIMEOUT_MS,
    store: values.TASKFLEET_STORE,
    sqlitePath: values.TASKFLEET_SQLITE_PATH,
    sqliteSynchronous: values.TASKFLEET_SQLITE_SYNCHRONOUS,
    ...toMssqlConfig(values),
    leaseDurationMs: values.TASKFLEET_LEASE_DURATION_MS,
    heartbeatIntervalMs: values.TASKFLEET_HEARTBEAT_INTERVAL_MS,
    heartbeatThresholds: {
      warnAfter: values.TASKFLEET_HEARTBEAT_THRESHOLDS[0] ?? 3,
      suspendAfter: values.TASKFLEET_HEARTBEAT_THRESHOLDS[1] ?? 5,
      freezeAfter: values.TASKFLEET_HEARTBEAT_THRESHOLDS[2] ?? 10,
    },
    reconcileIntervalMs: values.TASKFLEET_RECONCILE_INTERVAL_MS,
    stallAfterMs: values.TASKFLEET_STALL_AFTER_MS,
    reaperIntervalMs: values.TASKFLEET_REAPER_INTERVAL_MS,
    schedulerIntervalMs: values.TASKFLEET_SCHEDULER_INTERVAL_MS,
    routeRefreshMs: values.TASKFLEET_ROUTE_REFRESH_MS,
    watchPollMs: values.TASKFLEET_WATCH_POLL_MS,
    agentClaimPollMs: values.TASKFLEET_AGENT_CLAIM_POLL_MS,
    routeGateMs: values.TASKFLEET_ROUTE_GATE_MS,
    unroutableExpireAfterMs: values.TASKFLEET_UNROUTABLE_EXPIRE_AFTER,
    agentMetrics: {
      intervalMs: values.TASKFLEET_AGENT_METRICS_INTERVAL_MS,
      keepMs: values.TASKFLEET_AGENT_METRICS_KEEP_MS,
    },
    streamStallMs: values.TASKFLEET_STREAM_STALL_MS,
    dispatchBatch: values.TASKFLEET_DISPATCH_BATCH,
    spillAfterMs: values.TASKFLEET_SPILL_AFTER_MS,
    pools: values.TASKFLEET_POOLS,
    defaultMaxAttempts: values.TASKFLEET_DEFAULT_MAX_ATTEMPTS,
    backoff: { baseMs: values.TASKFLEET_BACKOFF_BASE_MS, maxMs: values.TASKFLEET_BACKOFF_MAX_MS },
    defaultTimeoutSeconds: values.TASKFLEET_DEFAULT_TIMEOUT_SECONDS,
    maxPayloadBytes: values.TASKFLEET_MAX_PAYLOAD_BYTES,
    maxBodyBytes: values.TASKFLEET_MAX_BODY_BYTES,
    resultMaxBytes: values.TASKFLEET_RESULT_MAX_BYTES,
    checksumRoot: values.TASKFLEET_CHECKSUM_ROOT ?? null,
    drainTimeoutMs: values.TASKFLEET_DRAIN_TIMEOUT_MS,
    logLevel: values.TASKFLEET_LOG_LEVEL,
    logFormat: values.TASKFLEET_LOG_FORMAT,
    appInsightsConnectionString: values.APPLICATIONINSIGHTS_CONNECTION_STRING ?? null,
    telemetryFile: values.TASKFLEET_TELEMETRY_FILE ?? null,
    apiUrl: values.TASKFLEET_URL ?? `http://127.0.0.1:${values.TASKFLEET_PORT}`,
    adminApiKey: values.TASKFLEET_ADMIN_API_KEY ?? null,
    rateLimit: { perSecond: values.TASKFLEET_RATE_LIMIT_PER_SECOND, burst: values.TASKFLEET_RATE_LIMIT_BURST },
    apiKey: values.TASKFLEET_API_KEY ?? null,
    dataKeys: values.TASKFLEET_DATA_KEY ?? null,
    webhooks: {
      allowHosts: values.TASKFLEET_WEBHOOK_ALLOW_HOSTS,
      retryForMs: Math.round(values.TASKFLEET_WEBHOOK_RETRY_HOURS * 3_600_000),
    },
    retention: toRetentionConfig(values),
  };
}

/** Reads and validates the environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  rejectUnknownVariables(env);
  const values = parseVariables(env);
  rejectInconsistentVariables(values);
  return { ...toConfig(values), ...overrides };
}

/**
 * Variables a worker or supervisor child process inherits from `taskfleet dev` and tests. The keys
 * (SECRET_VARIABLES) are left out: a child that needs one gets it explicitly.
 */
export function configToEnv(c: Config): Record<string, string> {
  return {
    TASKFLEET_PORT: String(c.port),
    TASKFLEET_HOST: c.host,
    TASKFLEET_REDIS_URL: c.redisUrl,
    TASKFLEET_REDIS_PREFIX: c.redisPrefix,
    TASKFLEET_REDIS_COMMAND_TIMEOUT_MS: String(c.redisCommandTimeoutMs),
    TASKFLEET_STORE: c.store,
    TASKFLEET_SQLITE_PATH: c.sqlitePath,
    TASKFLEET_SQLITE_SYNCHRONOUS: c.sqliteSynchronous,
    TASKFLEET_LEASE_DURATION_MS: String(c.leaseDurationMs),
    TASKFLEET_HEARTBEAT_INTERVAL_MS: String(c.heartbeatIntervalMs),
    TASKFLEET_HEARTBEAT_THRESHOLDS: [
      c.heartbeatThresholds.warnAfter,
      c.heartbeatThresholds.suspendAfter,
      c.heartbeatThresholds.freezeAfter,
    ].join(','),
    TASKFLEET_RECONCILE_INTERVAL_MS: String(c.reconcileIntervalMs),
    TASKFLEET_STALL_AFTER_MS: String(c.stallAfterMs),
    TASKFLEET_REAPER_INTERVAL_MS: String(c.reaperIntervalMs),
    TASKFLEET_SCHEDULER_INTERVAL_MS: String(c.schedulerIntervalMs),
    TASKFLEET_ROUTE_REFRESH_MS: String(c.routeRefreshMs),
    TASKFLEET_WATCH_POLL_MS: String(c.watchPollMs),
    TASKFLEET_AGENT_CLAIM_POLL_MS: String(c.agentClaimPollMs),
    TASKFLEET_ROUTE_GATE_MS: String(c.routeGateMs),
    TASKFLEET_UNROUTABLE_EXPIRE_AFTER: `${c.unroutableExpireAfterMs}ms`,
    TASKFLEET_AGENT_METRICS_INTERVAL_MS: String(c.agentMetrics.intervalMs),
    TASKFLEET_AGENT_METRICS_KEEP_MS: String(c.agentMetrics.keepMs),
    TASKFLEET_STREAM_STALL_MS: String(c.streamStallMs),
    TASKFLEET_DISPATCH_BATCH: String(c.dispatchBatch),
    TASKFLEET_SPILL_AFTER_MS: String(c.spillAfterMs),
    TASKFLEET_POOLS: c.pools.join(','),
    TASKFLEET_DEFAULT_MAX_ATTEMPTS: String(c.defaultMaxAttempts),
    TASKFLEET_BACKOFF_BASE_MS: String(c.backoff.baseMs),
    TASKFLEET_BACKOFF_MAX_MS: String(c.backoff.maxMs),
    TASKFLEET_DEFAULT_TIMEOUT_SECONDS: String(c.defaultTimeoutSeconds),
    TASKFLEET_MAX_PAYLOAD_BYTES: String(c.maxPayloadBytes),
    TASKFLEET_MAX_BODY_BYTES: String(c.maxBodyBytes),
    TASKFLEET_RESULT_MAX_BYTES: String(c.resultMaxBytes),
    ...(c.checksumRoot ? { TASKFLEET_CHECKSUM_ROOT: c.checksumRoot } : {}),
    TASKFLEET_DRAIN_TIMEOUT_MS: String(c.drainTimeoutMs),
    TASKFLEET_LOG_LEVEL: c.logLevel,
    TASKFLEET_LOG_FORMAT: c.logFormat,
    ...(c.telemetryFile ? { TASKFLEET_TELEMETRY_FILE: c.telemetryFile } : {}),
    ...(c.appInsightsConnectionString ? { APPLICATIONINSIGHTS_CONNECTION_STRING: c.appInsightsConnectionString } : {}),
    TASKFLEET_URL: c.apiUrl,
    TASKFLEET_RATE_LIMIT_PER_SECOND: String(c.rateLimit.perSecond),
    TASKFLEET_RATE_LIMIT_BURST: String(c.rateLimit.burst),
    TASKFLEET_WEBHOOK_ALLOW_HOSTS: c.webhooks.allowHosts.join(','),
    TASKFLEET_WEBHOOK_RETRY_HOURS: String(c.webhooks.retryForMs / 3_600_000),
    ...retentionToEnv(c.retention),
    ...mssqlToEnv(c.mssql, c.azure),
  };
}

/**
 * TASKFLEET_DATA_KEY for a worker started by `taskfleet dev` or the tests: unlike the API keys, a worker needs
 * it (it opens the payloads of the sensitive tasks it claims and seals their results), so it is passed on
 * explicitly, never through configToEnv.
 */
export function dataKeyEnv(c: Pick<Config, 'dataKeys'>): Record<string, string> {
  return c.dataKeys ? { TASKFLEET_DATA_KEY: c.dataKeys.toEnvValue() } : {};
}

/** `env` without the key variables, for a child process that must not hold them. */
export function withoutSecrets(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const k of SECRET_VARIABLES) delete out[k];
  return out;
}
