/**
 * How the mssql adapter declares the T-SQL it runs. Every statement is a named constant in one of the
 * `statements/*.ts` modules, with a header (purpose, parameters, result, errors), its parameters' types, and
 * whether it is idempotent (a repeat after an unseen success changes nothing and answers the same, so a
 * connection lost mid-flight may be retried).
 *
 * Tables are written `[$(Schema)].[name]`, the sqlcmd variable of the migrations: a statement can be pasted
 * into sqlcmd with `-v Schema=…`, and the store substitutes its configured schema once, at open.
 *
 * Parameter types follow the columns they meet: varchar columns get varchar parameters (an nvarchar parameter
 * would convert the column and turn an index seek into a scan), nvarchar columns nvarchar, times datetime2(3).
 */
export type ParamType =
  | { kind: 'varchar'; length: number }
  | { kind: 'nvarchar'; length: number | 'max' }
  | { kind: 'datetime2' }
  | { kind: 'int' }
  | { kind: 'bigint' }
  | { kind: 'float' }
  | { kind: 'bit' };

export const param = {
  varchar: (length: number): ParamType => ({ kind: 'varchar', length }),
  nvarchar: (length: number): ParamType => ({ kind: 'nvarchar', length }),
  /** JSON text (nvarchar(max)). */
  json: { kind: 'nvarchar', length: 'max' } as ParamType,
  /** Free text of any length (nvarchar(max)). */
  text: { kind: 'nvarchar', length: 'max' } as ParamType,
  /** Epoch milliseconds, sent as datetime2(3) UTC. */
  time: { kind: 'datetime2' } as ParamType,
  int: { kind: 'int' } as ParamType,
  bigint: { kind: 'bigint' } as ParamType,
  float: { kind: 'float' } as ParamType,
  bit: { kind: 'bit' } as ParamType,
} as const;

/** Column lengths the parameters are declared with (see sql/migrations). */
export const COLUMN_LENGTH = {
  taskId: 64,
  /** routes.route_key: a type and up to 32 capabilities of 64 characters. */
  routeKey: 2200,
  token: 64,
  agentId: 450,
  keyId: 450,
  idempotencyKey: 450,
  hash: 128,
  status: 16,
  kind: 32,
  action: 64,
  name: 200,
  hostname: 255,
  version: 64,
  prefix: 64,
  target: 1000,
  ip: 100,
  poolKey: 900,
  note: 500,
  url: 2048,
  secret: 1000,
  host: 255,
  webhookError: 1000,
  webhookEvents: 1000,
  scheduleName: 100,
  cron: 200,
  timezone: 64,
  workflowId: 64,
  stepId: 64,
  workflowName: 200,
} as const;

export interface Statement<K extends string = string> {
  readonly name: string;
  /** T-SQL with `[$(Schema)]` for the schema. */
  readonly text: string;
  readonly params: Readonly<Record<K, ParamType>>;
  readonly idempotent: boolean;
}

export function statement<K extends string>(
  name: string,
  def: { text: string; params: Record<K, ParamType>; idempotent: boolean },
): Statement<K> {
  return { name, text: def.text.trim(), params: def.params, idempotent: def.idempotent };
}

/** The tables, schema-qualified with the sqlcmd variable. */
export const TABLE = {
  schemaVersion: '[$(Schema)].[schema_version]',
  routes: '[$(Schema)].[routes]',
  tasks: '[$(Schema)].[tasks]',
  taskEvents: '[$(Schema)].[task_events]',
  agents: '[$(Schema)].[agents]',
  agentEvents: '[$(Schema)].[agent_events]',
  agentMetrics: '[$(Schema)].[agent_metrics]',
  apiKeys: '[$(Schema)].[api_keys]',
  auditLog: '[$(Schema)].[audit_log]',
  pools: '[$(Schema)].[pools]',
  taskLogs: '[$(Schema)].[task_logs]',
  taskLogDrops: '[$(Schema)].[task_log_drops]',
  webhookSubscriptions: '[$(Schema)].[webhook_subscriptions]',
  webhookKeySecrets: '[$(Schema)].[webhook_key_secrets]',
  webhookCursor: '[$(Schema)].[webhook_cursor]',
  webhookDeliveries: '[$(Schema)].[webhook_deliveries]',
  webhookAttempts: '[$(Schema)].[webhook_attempts]',
  schedules: '[$(Schema)].[schedules]',
  scheduleRuns: '[$(Schema)].[schedule_runs]',
  routeControls: '[$(Schema)].[route_controls]',
  routeEvents: '[$(Schema)].[route_events]',
  circuitBreakers: '[$(Schema)].[circuit_breakers]',
  workflows: '[$(Schema)].[workflows]',
  workflowSteps: '[$(Schema)].[workflow_steps]',
  workflowEvents: '[$(Schema)].[workflow_events]',
  workflowWebhookCursor: '[$(Schema)].[workflow_webhook_cursor]',
  routeMinutes: '[$(Schema)].[route_minutes]',
} as const;

/** The binary collation of every identifier and token column (byte order, case-sensitive, as in SQLite). */
export const BIN2 = 'COLLATE Latin1_General_100_BIN2';

/** Write batches: any error rolls the whole transaction back, and row counts do not clutter the results. */
export const WRITE_PREAMBLE = 'SET XACT_ABORT ON;\nSET NOCOUNT ON;';

/** Every column of a task row, in the order rows.ts reads them, optionally prefixed (`inserted.`, `t.`). */
export function taskColumns(prefix = ''): string {
  return [
    'id',
    'type',
    'status',
    'attempt',
    'max_attempts',
    'required_capabilities',
    'priority',
    'payload',
    'result',
    'error',
    'agent_id',
    'lease_expires_at',
    'cancel_requested',
    'timeout_seconds',
    'not_before',
    'deadline',
    'idempotency_key',
    'request_hash',
    'submitted_by',
    'trace_parent',
    'sensitive',
    'progress',
    'progress_at',
    'callback_url',
    'workflow',
    'created_at',
    'started_at',
    'finished_at',
    'updated_at',
  ]
    .map((c) => `${prefix}${c}`)
    .join(', ');
}

export function agentColumns(prefix = ''): string {
  return [
    'id',
    'capabilities',
    'types',
    'concurrency',
    'state',
    'state_source',
    'hostname',
    'pid',
    'version',
    'started_at',
    'last_heartbeat_at',
    'running_tasks',
    'metrics',
    'state_reason',
    'recycle_requested_at',
    'transport',
    'metadata',
    'desired_concurrency',
    'disabled_types',
  ]
    .map((c) => `${prefix}${c}`)
    .join(', ');
}

/** Replaces the sqlcmd variable with the configured schema (validated: an identifier, bracket-quoted in the text). */
export function bindSchema(text: string, schema: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(schema)) throw new Error(`mssql: invalid schema name "${schema}"`);
  return text.split('$(Schema)').join(schema);
}
