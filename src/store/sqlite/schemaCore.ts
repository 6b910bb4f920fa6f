/**
 * The SQLite schema's first twelve migrations (V1 to V12): tasks and agents, keys and the audit log, pools,
 * progress and logs, retry, webhooks, HTTP agents. Each mirrors its T-SQL migration, named in its comment;
 * schema.ts lists every migration and applies them. Append only: never edit one, add a migration.
 */
/** Mirrors sql/migrations/0001_tasks_and_agents.sql: tasks, task_events, routes, agents, agent_events. */
export const V1_INITIAL = `
CREATE TABLE IF NOT EXISTS tasks (
  id                    TEXT PRIMARY KEY,
  type                  TEXT NOT NULL,
  status                TEXT NOT NULL CHECK (status IN ('queued','running','succeeded','dead','cancelled','expired')),
  attempt               INTEGER NOT NULL DEFAULT 0,
  max_attempts          INTEGER NOT NULL,
  required_capabilities TEXT NOT NULL,           -- JSON array, normalised and sorted
  route_key             TEXT NOT NULL,           -- routeKey(type, required_capabilities)
  priority              TEXT NOT NULL,
  payload               TEXT NOT NULL,           -- JSON
  result                TEXT,                    -- JSON
  error                 TEXT,                    -- JSON TaskError
  agent_id              TEXT,
  lease_expires_at      INTEGER,
  cancel_requested      INTEGER NOT NULL DEFAULT 0,
  timeout_seconds       INTEGER,
  not_before            INTEGER NOT NULL,
  deadline              INTEGER,
  idempotency_key       TEXT UNIQUE,
  request_hash          TEXT,
  dispatched_at         INTEGER NOT NULL,        -- last submission, requeue or re-send
  created_at            INTEGER NOT NULL,
  started_at            INTEGER,
  finished_at           INTEGER,
  updated_at            INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_status_lease ON tasks (status, lease_expires_at);
CREATE INDEX IF NOT EXISTS tasks_status_deadline ON tasks (status, deadline);
CREATE INDEX IF NOT EXISTS tasks_status_id ON tasks (status, id);
CREATE INDEX IF NOT EXISTS tasks_type_id ON tasks (type, id);
CREATE INDEX IF NOT EXISTS tasks_queued_dispatch ON tasks (id, dispatched_at, not_before) WHERE status = 'queued';

CREATE TABLE IF NOT EXISTS task_events (
  seq      INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id  TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  at       INTEGER NOT NULL,
  kind     TEXT NOT NULL,
  attempt  INTEGER NOT NULL,
  agent_id TEXT,
  data     TEXT                                  -- JSON
);
CREATE INDEX IF NOT EXISTS task_events_task_seq ON task_events (task_id, seq);

CREATE TABLE IF NOT EXISTS routes (
  key          TEXT PRIMARY KEY,
  type         TEXT NOT NULL,
  capabilities TEXT NOT NULL,                    -- JSON array
  created_at   INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS agents (
  id                TEXT PRIMARY KEY,
  capabilities      TEXT NOT NULL,               -- JSON array
  types             TEXT NOT NULL,               -- JSON array
  concurrency       INTEGER NOT NULL,
  state             TEXT NOT NULL,
  hostname          TEXT NOT NULL,
  pid               INTEGER NOT NULL,
  version           TEXT NOT NULL,
  started_at        INTEGER NOT NULL,
  last_heartbeat_at INTEGER NOT NULL,
  running_tasks     INTEGER NOT NULL DEFAULT 0,
  metrics           TEXT                         -- JSON AgentMetrics
);

CREATE TABLE IF NOT EXISTS agent_events (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  agent_id   TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  at         INTEGER NOT NULL,
  from_state TEXT,
  to_state   TEXT NOT NULL,
  reason     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS agent_events_agent_seq ON agent_events (agent_id, seq);
`;

/**
 * Mirrors sql/migrations/0002_api_keys_and_audit.sql (api_keys, audit_log), and brings tasks and agents to the
 * columns and indexes 0001 has (submitted_by, state_source, the stats and fleet indexes).
 *
 * Fleet control and security: who submitted a task, who set an agent's state, API keys, the audit log, and
 * the indexes behind the stats and fleet queries (each named after the statement it serves).
 */
export const V2_FLEET_AND_SECURITY = `
ALTER TABLE tasks ADD COLUMN submitted_by TEXT;          -- api_keys.id of the submitter (no FK: keys are kept)
ALTER TABLE agents ADD COLUMN state_source TEXT NOT NULL DEFAULT 'agent'
  CHECK (state_source IN ('agent','enforcer','admin'));

-- ROUTE_STATS: an index-only scan of the queued, running and dead rows (three seeks on status).
CREATE INDEX IF NOT EXISTS tasks_status_route_not_before ON tasks (status, route_key, not_before);
-- SELECT_LEASES_OF: the running tasks of one agent, by id.
CREATE INDEX IF NOT EXISTS tasks_running_agent ON tasks (agent_id, id) WHERE status = 'running';
-- SELECT_AGENT_RUNS: one agent's events from a time on.
CREATE INDEX IF NOT EXISTS task_events_agent_at ON task_events (agent_id, at);
-- COUNT_TASK_EVENTS: an index-only range per kind.
CREATE INDEX IF NOT EXISTS task_events_kind_at ON task_events (kind, at);

CREATE TABLE IF NOT EXISTS api_keys (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  role       TEXT NOT NULL CHECK (role IN ('admin','submitter','reader')),
  hash       TEXT NOT NULL UNIQUE,                 -- hex SHA-256 of the key (SELECT_API_KEY_BY_HASH)
  prefix     TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  revoked_at INTEGER
);
-- SELECT_API_KEYS
CREATE INDEX IF NOT EXISTS api_keys_created ON api_keys (created_at, id);

CREATE TABLE IF NOT EXISTS audit_log (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  at         INTEGER NOT NULL,
  actor      TEXT NOT NULL,
  actor_name TEXT NOT NULL,
  action     TEXT NOT NULL,
  target     TEXT NOT NULL,
  ip         TEXT,
  detail     TEXT                                  -- JSON
);
-- SELECT_AUDIT_BY_ACTION: newest first within one action.
CREATE INDEX IF NOT EXISTS audit_log_action_seq ON audit_log (action, seq);
`;

/** tasks.trace_parent, a column of 0001_tasks_and_agents.sql's tasks. */
export const V3_TRACE_CONTEXT = `
ALTER TABLE tasks ADD COLUMN trace_parent TEXT;          -- W3C traceparent of the submit
`;

/**
 * The partial indexes that mirror 0001_tasks_and_agents.sql's filtered IX_tasks_running_lease and
 * IX_tasks_queued_deadline (the two on task_events are partial here only). Fewer index entries per task. Every index on a table is written on every insert, and an index that holds
 * the status on every change of status: a task's life (submit, start, finish, three events) wrote about 30
 * index entries. The lease, deadline and per-agent indexes now hold only the rows their queries can match
 * (running tasks, queued tasks with a deadline, events with an agent), and the event-count index leaves out
 * `started`, which nothing counts.
 */
export const V4_LEANER_INDEXES = `
DROP INDEX IF EXISTS tasks_status_lease;
CREATE INDEX IF NOT EXISTS tasks_running_lease ON tasks (lease_expires_at) WHERE status = 'running';
DROP INDEX IF EXISTS tasks_status_deadline;
CREATE INDEX IF NOT EXISTS tasks_queued_deadline ON tasks (deadline) WHERE status = 'queued' AND deadline IS NOT NULL;
DROP INDEX IF EXISTS task_events_agent_at;
CREATE INDEX IF NOT EXISTS task_events_agent_runs ON task_events (agent_id, at) WHERE agent_id IS NOT NULL;
DROP INDEX IF EXISTS task_events_kind_at;
CREATE INDEX IF NOT EXISTS task_events_counted_kind_at ON task_events (kind, at) WHERE kind <> 'started';
`;

/**
 * Mirrors sql/migrations/0004_agent_recycle.sql: why an agent is in its state, and when the supervisor asked it
 * to recycle its Redis connections (it saw the agent's tasks waiting while it had free slots).
 */
export const V5_AGENT_RECYCLE = `
ALTER TABLE agents ADD COLUMN state_reason TEXT;
ALTER TABLE agents ADD COLUMN recycle_requested_at INTEGER;
`;

/**
 * Mirrors sql/migrations/0005_sensitive_tasks.sql: tasks.sensitive. A sensitive task's payload and result hold
 * sealed values (src/security/encryption.ts), never the plain value.
 */
export const V6_SENSITIVE_TASKS = `
ALTER TABLE tasks ADD COLUMN sensitive INTEGER NOT NULL DEFAULT 0;
`;

/** Mirrors sql/migrations/0006_tasks_by_submitter.sql: a submitter key's own task list, newest first. */
export const V7_TASKS_BY_SUBMITTER = `
CREATE INDEX IF NOT EXISTS tasks_submitted_by_id ON tasks (submitted_by, id);
`;

/**
 * Mirrors sql/migrations/0007_pools.sql: the pools operators declared (src/domain/pool.ts), so a pool scaled to
 * zero is known. Keyed by `poolKey` (types~capabilities); the lists are JSON arrays, sorted.
 */
export const V8_POOLS = `
CREATE TABLE IF NOT EXISTS pools (
  pool_key     TEXT PRIMARY KEY,
  capabilities TEXT NOT NULL,                    -- JSON array
  types        TEXT NOT NULL,                    -- JSON array
  note         TEXT,
  declared_by  TEXT NOT NULL,
  declared_at  INTEGER NOT NULL
);
`;

/**
 * Mirrors sql/migrations/0008_progress_and_logs.sql: a running task's latest `ctx.progress` (JSON) and when it
 * was written; the lines of `ctx.log` per attempt, and per attempt what the caps dropped (src/domain/taskLog.ts).
 * Rows die with their task.
 */
export const V9_PROGRESS_AND_LOGS = `
ALTER TABLE tasks ADD COLUMN progress TEXT;              -- JSON
ALTER TABLE tasks ADD COLUMN progress_at INTEGER;

CREATE TABLE IF NOT EXISTS task_logs (
  task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL,
  seq     INTEGER NOT NULL,                      -- order within the attempt, from 0
  at      INTEGER NOT NULL,
  level   TEXT NOT NULL CHECK (level IN ('debug','info','warn','error')),
  message TEXT NOT NULL,
  fields  TEXT,                                  -- JSON
  PRIMARY KEY (task_id, attempt, seq)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS task_log_drops (
  task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL,
  lines   INTEGER NOT NULL,
  bytes   INTEGER NOT NULL,
  PRIMARY KEY (task_id, attempt)
) WITHOUT ROWID;
`;

/**
 * Mirrors sql/migrations/0009_task_retry.sql: the budget a task was submitted with, kept by its first retry on
 * demand (null until then: max_attempts is still that budget), so each retry raises max_attempts by it. 0009
 * also lets task_events.kind be `retried`; SQLite has no CHECK on kind.
 */
export const V10_TASK_RETRY = `
ALTER TABLE tasks ADD COLUMN initial_max_attempts INTEGER;
`;

/**
 * Mirrors sql/migrations/0010_webhooks.sql: tasks.callback_url, the API keys' webhook subscriptions and
 * callback secrets, and the outbox: a one-row cursor over task_events (leased, so one supervisor at a time
 * turns events into deliveries) and the deliveries with their attempts (src/domain/webhook.ts).
 */
export const V11_WEBHOOKS = `
ALTER TABLE tasks ADD COLUMN callback_url TEXT;

CREATE TABLE IF NOT EXISTS webhook_subscriptions (
  id         TEXT PRIMARY KEY,
  key_id     TEXT NOT NULL,                      -- api_keys.id (no FK: keys are kept)
  url        TEXT NOT NULL,
  events     TEXT NOT NULL,                      -- JSON array of event names
  secret     TEXT NOT NULL,                      -- whsec_…, or sealed JSON with a data key
  created_at INTEGER NOT NULL
);
-- SELECT_WEBHOOK_SUBSCRIPTIONS_OF_KEY
CREATE INDEX IF NOT EXISTS webhook_subscriptions_key ON webhook_subscriptions (key_id, created_at);

CREATE TABLE IF NOT EXISTS webhook_key_secrets (
  key_id     TEXT PRIMARY KEY,
  secret     TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS webhook_cursor (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  last_seq    INTEGER NOT NULL,
  owner       TEXT,
  lease_until INTEGER NOT NULL
);
-- Starts after the events that exist at upgrade: terminal events from before webhooks existed are not sent.
INSERT OR IGNORE INTO webhook_cursor (id, last_seq, owner, lease_until)
VALUES (1, COALESCE((SELECT MAX(seq) FROM task_events), 0), NULL, 0);

CREATE TABLE IF NOT EXISTS webhook_deliveries (
  id               TEXT PRIMARY KEY,
  event_seq        INTEGER NOT NULL,
  target           TEXT NOT NULL,                -- a subscription id, or 'callback'
  subscription_id  TEXT,
  key_id           TEXT NOT NULL,
  task_id          TEXT NOT NULL,
  event            TEXT NOT NULL,
  url              TEXT NOT NULL,
  host             TEXT NOT NULL,
  body             TEXT NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('pending','succeeded','failed')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  INTEGER NOT NULL,
  locked_until     INTEGER,
  claim_token      TEXT,
  last_status_code INTEGER,
  last_error       TEXT,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  UNIQUE (event_seq, target)
);
-- CLAIM_WEBHOOK_DELIVERIES: the due pending deliveries only.
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
-- SELECT_WEBHOOK_DELIVERIES: one subscription's deliveries, newest first.
CREATE INDEX IF NOT EXISTS webhook_deliveries_subscription ON webhook_deliveries (subscription_id, created_at);

CREATE TABLE IF NOT EXISTS webhook_attempts (
  delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  attempt     INTEGER NOT NULL,
  at          INTEGER NOT NULL,
  status_code INTEGER,
  error       TEXT,
  duration_ms INTEGER NOT NULL,
  PRIMARY KEY (delivery_id, attempt)
);
`;

/**
 * Mirrors sql/migrations/0011_http_agents.sql: the `agent` role with its binding (an agent id or an id prefix),
 * agents.transport and agents.metadata, and the index of the claims made for HTTP agents. SQLite cannot change
 * a CHECK, so api_keys is rebuilt (it has no foreign keys either way).
 */
export const V12_HTTP_AGENTS = `
CREATE TABLE api_keys_v12 (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  role         TEXT NOT NULL CHECK (role IN ('admin','submitter','reader','agent')),
  hash         TEXT NOT NULL UNIQUE,
  prefix       TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  created_by   TEXT NOT NULL,
  revoked_at   INTEGER,
  agent_id     TEXT,
  agent_prefix TEXT,
  CHECK ((role = 'agent' AND (agent_id IS NULL) <> (agent_prefix IS NULL))
      OR (role <> 'agent' AND agent_id IS NULL AND agent_prefix IS NULL))
);
INSERT INTO api_keys_v12 (id, name, role, hash, prefix, created_at, created_by, revoked_at)
  SELECT id, name, role, hash, prefix, created_at, created_by, revoked_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_v12 RENAME TO api_keys;
CREATE INDEX IF NOT EXISTS api_keys_created ON api_keys (created_at, id);

ALTER TABLE agents ADD COLUMN transport TEXT NOT NULL DEFAULT 'redis' CHECK (transport IN ('redis','http'));
ALTER TABLE agents ADD COLUMN metadata TEXT;   -- JSON object

-- SELECT_CLAIMABLE: one seek per route and priority, oldest first.
CREATE INDEX IF NOT EXISTS tasks_queued_claim ON tasks (route_key, priority, not_before, id) WHERE status = 'queued';
`;
