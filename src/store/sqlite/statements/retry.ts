/**
 * Retry on demand and the bulk actions: the statements behind retryTask, retryTasks and cancelTasks. Twin of
 * `mssql/statements/retry.ts`. The bulk cancel reuses CANCEL_QUEUED and REQUEST_CANCEL_RUNNING of
 * `background.ts`, as the single cancel does. Parameters are named (`@name`); times are epoch milliseconds.
 */
import type { Database } from 'better-sqlite3';

/** The states a task may be retried from (src/domain/retry.ts decides; the statement re-checks). */
const RETRYABLE = `('dead','cancelled','expired')`;

/**
 * RETRY_TASK: a dead, cancelled or expired task at @attempt → queued, due at @now. max_attempts grows by the
 * original budget: initial_max_attempts, or max_attempts itself before the first retry (nothing else changes
 * it), and the first retry keeps it. A deadline already passed is dropped (the task would expire again at
 * once). The error stays in the `failed` and `retry_scheduled` events. Params: @taskId, @attempt, @now.
 * Changes: 0|1.
 */
export const RETRY_TASK = `
UPDATE tasks SET status = 'queued',
  initial_max_attempts = COALESCE(initial_max_attempts, max_attempts),
  max_attempts = max_attempts + COALESCE(initial_max_attempts, max_attempts),
  result = NULL, error = NULL, agent_id = NULL, lease_expires_at = NULL, cancel_requested = 0,
  started_at = NULL, finished_at = NULL,
  deadline = CASE WHEN deadline <= @now THEN NULL ELSE deadline END,
  not_before = @now, dispatched_at = @now, updated_at = @now
WHERE id = @taskId AND status IN ${RETRYABLE} AND attempt = @attempt`;

/**
 * One page of a bulk action: the tasks in @status by id after @afterId, a range of the (status, id) index
 * tasks_status_id; the other filters are checked on the rows of that range. Params: @status, @afterId, @type,
 * @capability, @createdBefore, @submittedBy (each null when absent), @limit. Result: { id, attempt, status, agent_id }.
 */
const SELECT_BULK_PAGE = `
SELECT id, attempt, status, agent_id FROM tasks INDEXED BY tasks_status_id
WHERE status = @status AND id > @afterId
  AND (@type IS NULL OR type = @type)
  AND (@createdBefore IS NULL OR created_at < @createdBefore)
  AND (@submittedBy IS NULL OR submitted_by = @submittedBy)
  AND (@capability IS NULL OR EXISTS (SELECT 1 FROM json_each(required_capabilities) WHERE value = @capability))
ORDER BY id LIMIT @limit`;

/** SELECT_RETRY_PAGE (part of RETRY_TASKS on mssql): a page of retryable tasks, SELECT_BULK_PAGE above. */
export const SELECT_RETRY_PAGE = SELECT_BULK_PAGE;
/** SELECT_CANCEL_PAGE (part of CANCEL_TASKS on mssql): a page of queued or running tasks, SELECT_BULK_PAGE above. */
export const SELECT_CANCEL_PAGE = SELECT_BULK_PAGE;

export interface BulkPageParams {
  status: string;
  afterId: string;
  type: string | null;
  capability: string | null;
  createdBefore: number | null;
  submittedBy: string | null;
  limit: number;
}

export interface BulkPageRow {
  id: string;
  attempt: number;
  status: string;
  agent_id: string | null;
}

export function prepareRetryStatements(db: Database) {
  return {
    retryTask: db.prepare<{ taskId: string; attempt: number; now: number }>(RETRY_TASK),
    selectBulkPage: db.prepare<BulkPageParams, BulkPageRow>(SELECT_BULK_PAGE),
  };
}
