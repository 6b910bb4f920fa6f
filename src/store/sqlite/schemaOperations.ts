/**
 * The SQLite migrations of running a fleet for months (issue 17 on): agent metrics history, schedules, the
 * retention purge's indexes, route controls, agent settings, and the console's route minutes. Listed, with the
 * rest, in schema.ts's MIGRATIONS; the same rules hold (append only, each the twin of its T-SQL migration).
 */

/** Mirrors sql/migrations/0012_agent_metrics.sql: each agent's metrics history, a sample a minute. */
export const V13_AGENT_METRICS = `
CREATE TABLE IF NOT EXISTS agent_metrics (
  agent_id         TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  at               INTEGER NOT NULL,
  running_tasks    INTEGER NOT NULL,
  concurrency      INTEGER NOT NULL,
  cpu_percent      REAL,
  rss_bytes        INTEGER,
  heartbeat_age_ms INTEGER NOT NULL,
  PRIMARY KEY (agent_id, at)
);
-- PURGE_AGENT_SAMPLES
CREATE INDEX IF NOT EXISTS agent_metrics_at ON agent_metrics (at);
`;

/**
 * Mirrors sql/migrations/0013_schedules.sql: schedules (a submission fired per cron slot, src/domain/schedule.ts)
 * and schedule_runs, one row per slot fired or skipped: its primary key is what makes a slot's record unique.
 */
export const V14_SCHEDULES = `
CREATE TABLE IF NOT EXISTS schedules (
  name         TEXT PRIMARY KEY,
  cron         TEXT NOT NULL,
  timezone     TEXT NOT NULL,
  task         TEXT NOT NULL,                    -- JSON: the submission
  overlap      TEXT NOT NULL CHECK (overlap IN ('allow','skip')),
  catch_up     TEXT NOT NULL CHECK (catch_up IN ('none','one')),
  paused       INTEGER NOT NULL DEFAULT 0,
  next_at      INTEGER,                          -- null: the expression names no later slot
  last_task_id TEXT,
  created_at   INTEGER NOT NULL,
  created_by   TEXT NOT NULL,
  updated_at   INTEGER NOT NULL
);
-- SELECT_DUE_SCHEDULES
CREATE INDEX IF NOT EXISTS schedules_due ON schedules (next_at) WHERE paused = 0;

CREATE TABLE IF NOT EXISTS schedule_runs (
  name           TEXT NOT NULL REFERENCES schedules (name) ON DELETE CASCADE,
  slot_at        INTEGER NOT NULL,
  task_id        TEXT,
  skipped_reason TEXT CHECK (skipped_reason IN ('missed','overlap','invalid')),
  at             INTEGER NOT NULL,
  PRIMARY KEY (name, slot_at)
);
`;

/**
 * Mirrors sql/migrations/0014_retention.sql: the indexes the purge (src/store/sqlite/purge.ts) deletes by, so a
 * batch is a seek and a pass with nothing due reads no table: finished tasks by status and end, a task's webhook
 * deliveries (they have no foreign key to the task), agents by state and last heartbeat, the audit log by time.
 */
export const V15_RETENTION = `
-- PURGE_SELECT_TASKS
CREATE INDEX IF NOT EXISTS tasks_finished ON tasks (status, finished_at) WHERE finished_at IS NOT NULL;
-- PURGE_WEBHOOK_DELIVERIES
CREATE INDEX IF NOT EXISTS webhook_deliveries_task ON webhook_deliveries (task_id);
-- PURGE_AGENTS
CREATE INDEX IF NOT EXISTS agents_state_heartbeat ON agents (state, last_heartbeat_at);
-- PURGE_AUDIT
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
`;

/**
 * Mirrors sql/migrations/0015_route_controls.sql: route_controls (a pause, a rate limit with its token bucket, a
 * concurrency cap and the circuit state, per route, read by every claim), route_events, circuit_breakers (per
 * task type). A route without a row has no control.
 */
export const V16_ROUTE_CONTROLS = `
CREATE TABLE IF NOT EXISTS route_controls (
  route_key       TEXT PRIMARY KEY REFERENCES routes (key),
  paused          INTEGER NOT NULL DEFAULT 0,
  paused_at       INTEGER,
  paused_by       TEXT,
  rate_limit      REAL CHECK (rate_limit IS NULL OR rate_limit > 0),
  tokens          REAL NOT NULL DEFAULT 0,
  tokens_at       INTEGER,
  concurrency_cap INTEGER CHECK (concurrency_cap IS NULL OR concurrency_cap >= 1),
  circuit         TEXT NOT NULL DEFAULT 'closed' CHECK (circuit IN ('closed','open','half_open')),
  circuit_at      INTEGER,
  probe_task_id   TEXT,
  outcomes        TEXT NOT NULL DEFAULT '',
  outcomes_seq    INTEGER NOT NULL DEFAULT 0,
  updated_at      INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS route_events (
  seq       INTEGER PRIMARY KEY AUTOINCREMENT,
  route_key TEXT NOT NULL REFERENCES routes (key),
  at        INTEGER NOT NULL,
  kind      TEXT NOT NULL CHECK (kind IN ('paused','resumed','limits_changed','circuit_opened','circuit_half_open',
                                          'circuit_closed')),
  actor     TEXT,
  data      TEXT                                 -- JSON
);
-- SELECT_ROUTE_EVENTS: one route's events, newest first.
CREATE INDEX IF NOT EXISTS route_events_route_seq ON route_events (route_key, seq);
-- PURGE_ROUTE_EVENTS: the oldest events, by time.
CREATE INDEX IF NOT EXISTS route_events_at ON route_events (at);

CREATE TABLE IF NOT EXISTS circuit_breakers (
  type        TEXT PRIMARY KEY,
  failures    INTEGER NOT NULL CHECK (failures >= 1),
  window_size INTEGER NOT NULL CHECK (window_size >= failures),
  cooldown_ms INTEGER NOT NULL CHECK (cooldown_ms >= 0),
  updated_at  INTEGER NOT NULL,
  updated_by  TEXT NOT NULL
);
`;

/**
 * Mirrors sql/migrations/0016_agent_settings.sql: an admin's settings on the agent row (PATCH /v1/agents/:id),
 * applied by the agent at its next heartbeat. desired_concurrency NULL: as the agent registered; disabled_types:
 * a JSON array of task types the agent no longer serves.
 */
export const V17_AGENT_SETTINGS = `
ALTER TABLE agents ADD COLUMN desired_concurrency INTEGER CHECK (desired_concurrency BETWEEN 1 AND 1000);
ALTER TABLE agents ADD COLUMN disabled_types TEXT NOT NULL DEFAULT '[]';   -- JSON array
`;

/**
 * Mirrors sql/migrations/0018_route_minutes.sql: each route's tasks finished or failed per minute, rolled up from
 * task_events once the minute has ended (the console's route charts). The primary key makes a minute's row
 * unique: supervisors rolling up the same minute store it once (INSERT OR IGNORE).
 */
export const V19_ROUTE_MINUTES = `
CREATE TABLE IF NOT EXISTS route_minutes (
  route_key TEXT NOT NULL REFERENCES routes (key),
  minute    INTEGER NOT NULL,
  succeeded INTEGER NOT NULL,
  failed    INTEGER NOT NULL,
  dead      INTEGER NOT NULL,
  cancelled INTEGER NOT NULL,
  expired   INTEGER NOT NULL,
  PRIMARY KEY (route_key, minute)
);
-- PURGE_ROUTE_MINUTES: the oldest minutes, by time.
CREATE INDEX IF NOT EXISTS route_minutes_minute ON route_minutes (minute);
`;
