/**
 * Retry on demand and the bulk actions: retryTask, retryTasks (a page of them) and cancelTasks (a page of
 * cancellations). Twin of `sqlite/statements/retry.ts` with `sqlite/retry.ts`.
 *
 * A retry is a conditional update on the status and the attempt, so of two concurrent retries of one task one
 * applies and the other changes nothing. A bulk page locks its rows (UPDLOCK) as it reads them from the
 * (status, id) index IX_tasks_status_id, so a task changed meanwhile by a worker or another supervisor is
 * either waited for or re-checked by the update's own condition: the counts are what was written.
 */
import { BIN2, COLUMN_LENGTH, param, statement, TABLE, taskColumns, WRITE_PREAMBLE } from '../statement';

const RETRYABLE = `('dead', 'cancelled', 'expired')`;

/**
 * The SET list of a retry (twin of sqlite RETRY_TASK): queued and due at @now, max_attempts raised by the
 * original budget (initial_max_attempts, kept by the first retry), what a fresh queue has not cleared, and a
 * deadline already passed dropped. T-SQL reads every right-hand side before the update, as SQLite does.
 */
const RETRY_SET = `status = 'queued',
  initial_max_attempts = COALESCE(initial_max_attempts, max_attempts),
  max_attempts = max_attempts + COALESCE(initial_max_attempts, max_attempts),
  result = NULL, error = NULL, agent_id = NULL, lease_expires_at = NULL, cancel_requested = 0,
  started_at = NULL, finished_at = NULL,
  deadline = CASE WHEN deadline <= @now THEN NULL ELSE deadline END,
  not_before = @now, dispatched_at = @now, updated_at = @now`;

/** The `retried` event's data: { by, from, maxAttempts }; @by is already a JSON string literal. */
const RETRIED_DATA = `CONCAT(N'{"by":', @by, N',"from":"', d.from_status, N'","maxAttempts":', d.max_attempts, N'}')`;

/** The page of a bulk action: tasks in @status by id after @afterId, with the optional filters (null: none). */
const BULK_PAGE = `
SELECT TOP (@limit) id, attempt, status, agent_id
FROM ${TABLE.tasks} WITH (UPDLOCK, ROWLOCK)
WHERE status = @status AND id > @afterId
  AND (@type IS NULL OR type = @type)
  AND (@createdBefore IS NULL OR created_at < @createdBefore)
  AND (@submittedBy IS NULL OR submitted_by = @submittedBy)
  AND (@capability IS NULL
    OR EXISTS (SELECT 1 FROM OPENJSON(required_capabilities) AS c WHERE c.value = @capability ${BIN2}))
ORDER BY id`;

const BULK_PARAMS = {
  status: param.varchar(COLUMN_LENGTH.status),
  afterId: param.varchar(COLUMN_LENGTH.taskId),
  type: param.varchar(COLUMN_LENGTH.token),
  capability: param.nvarchar(COLUMN_LENGTH.token),
  createdBefore: param.time,
  submittedBy: param.nvarchar(COLUMN_LENGTH.keyId),
  limit: param.int,
  now: param.time,
};

const PICKED = `DECLARE @picked TABLE (
  id       varchar(64) ${BIN2} NOT NULL PRIMARY KEY,
  attempt  int NOT NULL,
  status   varchar(16) ${BIN2} NOT NULL,
  agent_id nvarchar(450) ${BIN2} NULL
);`;

/**
 * RETRY_TASK: a dead, cancelled or expired task at @attempt → queued (RETRY_SET), with `retried` { by, from,
 * maxAttempts } at @attempt. Params: @taskId, @attempt, @now, @by (a JSON string). Result: the task after the
 * retry, or no row when it did not apply.
 */
export const RETRY_TASK = statement('RETRY_TASK', {
  idempotent: false,
  params: { taskId: param.varchar(COLUMN_LENGTH.taskId), attempt: param.int, now: param.time, by: param.json },
  text: `
${WRITE_PREAMBLE}
DECLARE @done TABLE (from_status varchar(16) NOT NULL, max_attempts int NOT NULL);
BEGIN TRANSACTION;
UPDATE ${TABLE.tasks} SET ${RETRY_SET}
OUTPUT deleted.status, inserted.max_attempts INTO @done (from_status, max_attempts)
WHERE id = @taskId AND status IN ${RETRYABLE} AND attempt = @attempt;
INSERT INTO ${TABLE.taskEvents} (task_id, at, kind, attempt, agent_id, data)
SELECT @taskId, @now, 'retried', @attempt, NULL, ${RETRIED_DATA} FROM @done AS d;
COMMIT TRANSACTION;
SELECT ${taskColumns()} FROM ${TABLE.tasks} WHERE id = @taskId AND EXISTS (SELECT 1 FROM @done);`,
});

/**
 * RETRY_TASKS: RETRY_TASK for one page of tasks in @status (dead, cancelled or expired). Params: @status,
 * @afterId ('' for the start), @type, @capability, @createdBefore, @submittedBy (null when absent), @limit, @now,
 * @by.
 * Result sets: [0] { matched, last_id } of the page; [1] dispatch rows of the tasks retried.
 */
export const RETRY_TASKS = statement('RETRY_TASKS', {
  idempotent: false,
  params: { ...BULK_PARAMS, by: param.json },
  text: `
${WRITE_PREAMBLE}
${PICKED}
DECLARE @done TABLE (
  id           varchar(64) ${BIN2} NOT NULL,
  attempt      int NOT NULL,
  from_status  varchar(16) NOT NULL,
  max_attempts int NOT NULL
);
BEGIN TRANSACTION;
INSERT INTO @picked (id, attempt, status, agent_id)
${BULK_PAGE.trim()};
UPDATE t SET ${RETRY_SET}
OUTPUT inserted.id, inserted.attempt, deleted.status, inserted.max_attempts
  INTO @done (id, attempt, from_status, max_attempts)
FROM ${TABLE.tasks} AS t
INNER JOIN @picked AS p ON p.id = t.id AND p.attempt = t.attempt
WHERE t.status IN ${RETRYABLE};
INSERT INTO ${TABLE.taskEvents} (task_id, at, kind, attempt, agent_id, data)
SELECT d.id, @now, 'retried', d.attempt, NULL, ${RETRIED_DATA} FROM @done AS d;
COMMIT TRANSACTION;
SELECT COUNT(*) AS matched, MAX(id) AS last_id FROM @picked;
SELECT t.id, t.attempt, t.type, t.required_capabilities, t.priority, t.not_before, t.trace_parent
FROM ${TABLE.tasks} AS t
INNER JOIN @done AS d ON d.id = t.id
ORDER BY t.id;`,
});

/**
 * CANCEL_TASKS: REQUEST_CANCEL for one page of tasks in @status (queued or running): queued → cancelled with
 * `cancelled`; running and not yet flagged → cancel_requested with `cancel_requested` (the holder's).
 * Params: as RETRY_TASKS without @by. Result sets: [0] { matched, last_id }; [1] { id, outcome } of each task
 * changed ('cancelled' | 'requested').
 */
export const CANCEL_TASKS = statement('CANCEL_TASKS', {
  idempotent: false,
  params: BULK_PARAMS,
  text: `
${WRITE_PREAMBLE}
${PICKED}
DECLARE @done TABLE (id varchar(64) ${BIN2} NOT NULL, outcome varchar(16) NOT NULL);
BEGIN TRANSACTION;
INSERT INTO @picked (id, attempt, status, agent_id)
${BULK_PAGE.trim()};
UPDATE t SET status = 'cancelled', finished_at = @now, updated_at = @now
OUTPUT inserted.id, 'cancelled' INTO @done (id, outcome)
FROM ${TABLE.tasks} AS t
INNER JOIN @picked AS p ON p.id = t.id AND p.attempt = t.attempt
WHERE t.status = 'queued';
UPDATE t SET cancel_requested = 1, updated_at = @now
OUTPUT inserted.id, 'requested' INTO @done (id, outcome)
FROM ${TABLE.tasks} AS t
INNER JOIN @picked AS p ON p.id = t.id AND p.attempt = t.attempt
WHERE t.status = 'running' AND t.cancel_requested = 0;
INSERT INTO ${TABLE.taskEvents} (task_id, at, kind, attempt, agent_id, data)
SELECT p.id, @now, CASE WHEN d.outcome = 'cancelled' THEN 'cancelled' ELSE 'cancel_requested' END, p.attempt,
  CASE WHEN d.outcome = 'cancelled' THEN NULL ELSE p.agent_id END, NULL
FROM @done AS d
INNER JOIN @picked AS p ON p.id = d.id;
COMMIT TRANSACTION;
SELECT COUNT(*) AS matched, MAX(id) AS last_id FROM @picked;
SELECT id, outcome FROM @done ORDER BY id;`,
});
