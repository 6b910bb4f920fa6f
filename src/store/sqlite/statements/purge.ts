/**
 * What the retention purge deletes (src/store/purgePort.ts), one batch per call. Twin of
 * `mssql/statements/purge.ts`. Parameters are named (`@name`); times are epoch milliseconds; lists are JSON arrays.
 * Each statement reads by an index of V15_RETENTION (schema.ts), never by scanning a table.
 */
import type { Database } from 'better-sqlite3';

/**
 * PURGE_SELECT_TASKS: up to @limit tasks in one of @statuses that finished before @finishedBefore (a seek per
 * status on tasks_finished). Params: @statuses, @finishedBefore, @limit. Result: { id } rows.
 */
export const PURGE_SELECT_TASKS = `
SELECT id FROM tasks
WHERE status IN (SELECT value FROM json_each(@statuses))
  AND finished_at IS NOT NULL AND finished_at < @finishedBefore
LIMIT @limit`;

/**
 * PURGE_WEBHOOK_DELIVERIES: the webhook deliveries of these tasks (their attempts go by ON DELETE CASCADE).
 * Params: @ids. Changes: the deliveries deleted.
 */
export const PURGE_WEBHOOK_DELIVERIES = `
DELETE FROM webhook_deliveries WHERE task_id IN (SELECT value FROM json_each(@ids))`;

/**
 * PURGE_TASKS: these tasks, still finished in one of @statuses before @finishedBefore (the same condition as the
 * select, in the same transaction). Events, logs and log drops go by ON DELETE CASCADE (`foreign_keys = ON`).
 * Params: @ids, @statuses, @finishedBefore. Changes: the tasks deleted.
 */
export const PURGE_TASKS = `
DELETE FROM tasks
WHERE id IN (SELECT value FROM json_each(@ids))
  AND status IN (SELECT value FROM json_each(@statuses))
  AND finished_at IS NOT NULL AND finished_at < @finishedBefore`;

/**
 * PURGE_AGENTS: up to @limit agents in one of @states last heard from before @before (agents_state_heartbeat);
 * their events go by ON DELETE CASCADE. Params: @states, @before, @limit. Changes: the agents deleted.
 */
export const PURGE_AGENTS = `
DELETE FROM agents WHERE id IN (
  SELECT id FROM agents
  WHERE state IN (SELECT value FROM json_each(@states)) AND last_heartbeat_at < @before
  LIMIT @limit)`;

/** PURGE_AUDIT: up to @limit audit entries written before @before (audit_log_at). Params: @before, @limit. */
export const PURGE_AUDIT = `
DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log WHERE at < @before ORDER BY at LIMIT @limit)`;

export function preparePurgeStatements(db: Database) {
  return {
    selectTasks: db.prepare<{ statuses: string; finishedBefore: number; limit: number }, { id: string }>(
      PURGE_SELECT_TASKS,
    ),
    deleteWebhookDeliveries: db.prepare<{ ids: string }>(PURGE_WEBHOOK_DELIVERIES),
    deleteTasks: db.prepare<{ ids: string; statuses: string; finishedBefore: number }>(PURGE_TASKS),
    deleteAgents: db.prepare<{ states: string; before: number; limit: number }>(PURGE_AGENTS),
    deleteAudit: db.prepare<{ before: number; limit: number }>(PURGE_AUDIT),
  };
}
