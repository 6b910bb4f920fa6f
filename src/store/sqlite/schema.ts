/**
 * The SQLite schema, applied at open. `PRAGMA user_version` holds the number of migrations applied; each
 * migration is idempotent DDL (IF NOT EXISTS) and is append-only: change the schema by adding a migration.
 *
 * Times are epoch milliseconds (INTEGER); JSON values are TEXT; booleans are INTEGER 0/1.
 */
import type { Database } from 'better-sqlite3';

const V1_INITIAL = `
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

/** Migration N (1-based) brings the schema to `user_version = N`. Append only. */
export const MIGRATIONS: readonly string[] = [V1_INITIAL];
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the database to SCHEMA_VERSION. Each pending migration runs with its version bump in one
 * IMMEDIATE transaction, so processes opening the same file at once apply it exactly once (the others wait
 * on the write lock, then find the version already set).
 */
export function applySchema(db: Database): void {
  const readVersion = (): number => Number(db.pragma('user_version', { simple: true }));
  const current = readVersion();
  if (current > SCHEMA_VERSION) {
    throw new Error(`database schema version ${current} is newer than this build supports (${SCHEMA_VERSION})`);
  }
  MIGRATIONS.forEach((sql, i) => {
    const version = i + 1;
    if (current >= version) return;
    db.transaction(() => {
      if (readVersion() >= version) return;
      db.exec(sql);
      db.pragma(`user_version = ${version}`);
    }).immediate();
  });
}
