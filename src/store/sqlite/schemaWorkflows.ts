/**
 * Mirrors sql/migrations/0017_workflows.sql (issue 19): workflows, the state of their steps, their event log,
 * `tasks.workflow`, the context a step's task carries (JSON: WorkflowTaskContext), and the webhook outbox's
 * cursor over the workflow event log.
 */
export const V18_WORKFLOWS = `
CREATE TABLE IF NOT EXISTS workflows (
  id              TEXT PRIMARY KEY,
  name            TEXT,
  state           TEXT NOT NULL CHECK (state IN ('running','waiting_approval','succeeded','failed','cancelled')),
  version         INTEGER NOT NULL DEFAULT 0,
  dirty           INTEGER NOT NULL DEFAULT 1,
  submitted_by    TEXT,
  idempotency_key TEXT UNIQUE,
  request_hash    TEXT,
  spec            TEXT NOT NULL,                 -- JSON array of StepSpec
  error           TEXT,                          -- JSON StepError
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  finished_at     INTEGER
);
-- LIST_WORKFLOWS by state, newest first; and a submitter's own.
CREATE INDEX IF NOT EXISTS workflows_state_id ON workflows (state, id);
CREATE INDEX IF NOT EXISTS workflows_submitted_by_id ON workflows (submitted_by, id);
-- SELECT_WORKFLOWS_TO_ADVANCE: the dirty ones (few at any time).
CREATE INDEX IF NOT EXISTS workflows_dirty ON workflows (id) WHERE dirty = 1;
-- PURGE_WORKFLOWS: the finished ones, oldest first.
CREATE INDEX IF NOT EXISTS workflows_finished_at ON workflows (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS workflow_steps (
  workflow_id TEXT NOT NULL REFERENCES workflows (id),
  step_id     TEXT NOT NULL,
  ord         INTEGER NOT NULL,
  state       TEXT NOT NULL CHECK (state IN ('pending','running','waiting_approval','succeeded','failed','cancelled')),
  round       INTEGER NOT NULL DEFAULT 0,
  task_id     TEXT,                              -- the current round's task
  task_ids    TEXT NOT NULL DEFAULT '[]',        -- JSON array: the task of each round
  result      TEXT,                              -- JSON
  error       TEXT,                              -- JSON StepError
  feedback    TEXT,                              -- JSON
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (workflow_id, step_id)
);
-- SELECT_WORKFLOWS_TO_ADVANCE: the running steps (their tasks are looked up by id); workflow_id first, so it
-- covers the query and yields its rows in the order the UNION merges them.
CREATE INDEX IF NOT EXISTS workflow_steps_running ON workflow_steps (workflow_id, task_id) WHERE state = 'running';

CREATE TABLE IF NOT EXISTS workflow_events (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  workflow_id TEXT NOT NULL REFERENCES workflows (id),
  at          INTEGER NOT NULL,
  kind        TEXT NOT NULL,
  step_id     TEXT,
  round       INTEGER,
  data        TEXT                               -- JSON
);
-- SELECT_WORKFLOW_EVENTS: one workflow's events in order.
CREATE INDEX IF NOT EXISTS workflow_events_workflow_seq ON workflow_events (workflow_id, seq);

ALTER TABLE tasks ADD COLUMN workflow TEXT;     -- JSON WorkflowTaskContext of a step's task

-- The webhook outbox's cursor over the workflow event log (webhook_cursor is the task event log's).
CREATE TABLE IF NOT EXISTS workflow_webhook_cursor (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  last_seq    INTEGER NOT NULL,
  owner       TEXT,
  lease_until INTEGER NOT NULL
);
INSERT OR IGNORE INTO workflow_webhook_cursor (id, last_seq, owner, lease_until) VALUES (1, 0, NULL, 0);
`;
