/**
 * Every task statement the SQLite adapter runs, each named, with its contract. Statements are prepared once
 * per connection by `prepareTaskStatements`. Parameters are named (`@name`); times are epoch milliseconds.
 *
 * Fencing: every write that belongs to a lease matches `LEASE_HELD` (status running, the caller's attempt and
 * agent), so a worker whose attempt was requeued, reclaimed or finished changes nothing (`changes` = 0).
 * Writes with RETURNING are run with `.all()`, never `.get()` (see FACTS.md: `.get()` leaves the statement
 * unfinished and blocks WAL checkpoints).
 */
import type { Database } from 'better-sqlite3';
import type { DispatchDbRow, LeaseDbRow, RouteRow, TaskEventRow, TaskRow } from './rows';

/** The lease key (@taskId, @attempt, @agentId; @now for the write): the attempt is running and held by @agentId. */
export const LEASE_HELD = `id = @taskId AND status = 'running' AND attempt = @attempt AND agent_id = @agentId`;

/** Inserts a queued task. Params: every column but the lease, result and run times. */
export const INSERT_TASK = `
INSERT INTO tasks (id, type, status, attempt, max_attempts, required_capabilities, route_key, priority, payload,
  cancel_requested, timeout_seconds, not_before, deadline, idempotency_key, request_hash, submitted_by,
  trace_parent, dispatched_at, created_at, updated_at)
VALUES (@id, @type, 'queued', 0, @maxAttempts, @requiredCapabilities, @routeKey, @priority, @payload,
  0, @timeoutSeconds, @notBefore, @deadline, @idempotencyKey, @requestHash, @submittedBy,
  @traceParent, @createdAt, @createdAt, @createdAt)`;

/** One task by id. Params: @id. Result: the row or none. */
export const SELECT_TASK = `SELECT * FROM tasks WHERE id = @id`;

/** The task holding an idempotency key. Params: @key. Result: the row or none. */
export const SELECT_TASK_BY_IDEMPOTENCY_KEY = `SELECT * FROM tasks WHERE idempotency_key = @key`;

/** Appends a task event. Params: @taskId, @at, @kind, @attempt, @agentId, @data (JSON or null). */
export const INSERT_TASK_EVENT = `
INSERT INTO task_events (task_id, at, kind, attempt, agent_id, data)
VALUES (@taskId, @at, @kind, @attempt, @agentId, @data)`;

/** Records a route the first time a task is submitted on it. Params: @key, @type, @capabilities (JSON), @now. */
export const INSERT_ROUTE_IF_NEW = `
INSERT OR IGNORE INTO routes (key, type, capabilities, created_at) VALUES (@key, @type, @capabilities, @now)`;

/** A task's events in order. Params: @taskId. Result: event rows by seq. */
export const SELECT_TASK_EVENTS = `SELECT * FROM task_events WHERE task_id = @taskId ORDER BY seq`;

/** Every task's events after @afterSeq, in order (the metrics tail). Params: @afterSeq, @limit. */
export const SELECT_TASK_EVENTS_AFTER = `SELECT * FROM task_events WHERE seq > @afterSeq ORDER BY seq LIMIT @limit`;

/** The newest event's seq (0 when there is none). Result: { seq } or none. */
export const SELECT_LAST_TASK_EVENT_SEQ = `SELECT seq FROM task_events ORDER BY seq DESC LIMIT 1`;

export interface TaskListShape {
  status: boolean;
  type: boolean;
  capability: boolean;
  beforeId: boolean;
}

/**
 * listTasks, newest first: one statement per combination of filters present, so each gets its own plan
 * (an `@x IS NULL OR …` form would stop SQLite from using (status, id) or (type, id) for keyset paging).
 * Params: @status, @type, @capability, @beforeId for the filters present, @limit. Result: task rows.
 */
export function listTasksSql(shape: TaskListShape): string {
  const where: string[] = [];
  if (shape.status) where.push('status = @status');
  if (shape.type) where.push('type = @type');
  if (shape.capability) where.push('EXISTS (SELECT 1 FROM json_each(required_capabilities) WHERE value = @capability)');
  if (shape.beforeId) where.push('id < @beforeId');
  const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  return `SELECT * FROM tasks ${clause} ORDER BY id DESC LIMIT @limit`;
}

/**
 * Claims the dispatch @attempt of a queued task whose deadline has not passed: running, attempt + 1, lease
 * until @leaseUntil. Params: @taskId, @attempt, @agentId, @now, @leaseUntil. Result: the updated row, or none
 * when the task is not queued at that attempt (another claim won, cancelled, expired), is overdue, or the
 * agent is held (suspended, frozen, draining, stopped, failed): a worker learns its state only at its next
 * heartbeat, so the registry itself refuses a held agent's claims.
 */
export const CLAIM_TASK = `
UPDATE tasks SET status = 'running', attempt = attempt + 1, agent_id = @agentId, lease_expires_at = @leaseUntil,
  started_at = @now, error = NULL, updated_at = @now
WHERE id = @taskId AND status = 'queued' AND attempt = @attempt AND (deadline IS NULL OR deadline > @now)
  AND NOT EXISTS (SELECT 1 FROM agents WHERE agents.id = @agentId
                  AND agents.state IN ('suspended', 'frozen', 'draining', 'stopped', 'failed'))
RETURNING *`;

/** Extends a held lease. Params: lease key, @leaseUntil. Result: cancel_requested, or none when not held. */
export const RENEW_LEASE = `
UPDATE tasks SET lease_expires_at = @leaseUntil, updated_at = @now WHERE ${LEASE_HELD}
RETURNING cancel_requested`;

/**
 * The attempt's run time, returned by the writes that end it (started_at belongs to the current attempt: every
 * claim sets it). Result of those writes: one row { run_ms } when the lease was held, none otherwise.
 */
const RETURNING_RUN_MS = `RETURNING @now - started_at AS run_ms, @now - created_at AS total_ms`;

/** running → succeeded for the lease holder. Params: lease key, @result (JSON). Result: { run_ms } or none. */
export const COMPLETE_TASK = `
UPDATE tasks SET status = 'succeeded', result = @result, lease_expires_at = NULL, finished_at = @now, updated_at = @now
WHERE ${LEASE_HELD}
${RETURNING_RUN_MS}`;

/** running → queued after a failure, for the holder. Params: lease key, @error (JSON), @notBefore. Result: { run_ms } or none. */
export const FAIL_TASK_REQUEUE = `
UPDATE tasks SET status = 'queued', error = @error, agent_id = NULL, lease_expires_at = NULL,
  not_before = @notBefore, dispatched_at = @now, updated_at = @now
WHERE ${LEASE_HELD}
${RETURNING_RUN_MS}`;

/** running → dead after a failure, for the lease holder. Params: lease key, @error (JSON). Result: { run_ms } or none. */
export const FAIL_TASK_DEAD = `
UPDATE tasks SET status = 'dead', error = @error, lease_expires_at = NULL, finished_at = @now, updated_at = @now
WHERE ${LEASE_HELD}
${RETURNING_RUN_MS}`;

/** running with cancel requested → cancelled, for the lease holder. Params: lease key. Changes: 0|1. */
export const FINISH_CANCELLED = `
UPDATE tasks SET status = 'cancelled', lease_expires_at = NULL, finished_at = @now, updated_at = @now
WHERE ${LEASE_HELD} AND cancel_requested = 1`;

/** running → queued, handed back by the holder, dispatchable at once. Params: lease key. Changes: 0|1. */
export const RELEASE_TASK = `
UPDATE tasks SET status = 'queued', agent_id = NULL, lease_expires_at = NULL, not_before = @now,
  dispatched_at = @now, updated_at = @now
WHERE ${LEASE_HELD}`;

/** queued → cancelled. Params: @taskId, @attempt, @now. Changes: 0|1. */
export const CANCEL_QUEUED = `
UPDATE tasks SET status = 'cancelled', finished_at = @now, updated_at = @now
WHERE id = @taskId AND status = 'queued' AND attempt = @attempt`;

/** Flags a running attempt for cooperative cancellation. Params: @taskId, @attempt, @now. Changes: 0|1. */
export const REQUEST_CANCEL_RUNNING = `
UPDATE tasks SET cancel_requested = 1, updated_at = @now
WHERE id = @taskId AND status = 'running' AND attempt = @attempt AND cancel_requested = 0`;

/**
 * Running tasks whose lease expired before @now, oldest expiry first. Params: @now, @limit. Named index: the
 * planner would otherwise take tasks_status_id's equality on status and sort every running task.
 */
export const SELECT_EXPIRED_LEASES = `
SELECT id, attempt, max_attempts, agent_id FROM tasks INDEXED BY tasks_running_lease
WHERE status = 'running' AND lease_expires_at < @now ORDER BY lease_expires_at LIMIT @limit`;

/** The lease of (@taskId, @attempt) expired before @now (whoever held it). */
const LEASE_EXPIRED = `id = @taskId AND status = 'running' AND attempt = @attempt AND lease_expires_at < @now`;

/** The error recorded when a lease expires (kept on a dead task; cleared by the next claim). */
const LEASE_EXPIRED_ERROR = `json_object('kind', 'lease_expired', 'message',
  'the worker stopped renewing its lease (it died, stalled or lost its connection)')`;

/** Expired lease → queued at @notBefore. Params: @taskId, @attempt, @now, @notBefore. Changes: 0|1. */
export const REQUEUE_EXPIRED_LEASE = `
UPDATE tasks SET status = 'queued', error = ${LEASE_EXPIRED_ERROR}, agent_id = NULL, lease_expires_at = NULL, not_before = @notBefore,
  dispatched_at = @now, updated_at = @now
WHERE ${LEASE_EXPIRED}`;

/** Expired lease → dead (attempts spent). Params: @taskId, @attempt, @now. Changes: 0|1. */
export const KILL_EXPIRED_LEASE = `
UPDATE tasks SET status = 'dead', error = ${LEASE_EXPIRED_ERROR}, lease_expires_at = NULL, finished_at = @now,
  updated_at = @now
WHERE ${LEASE_EXPIRED}`;

/** Queued tasks whose deadline is at or before @now, earliest first (named index, as above). Params: @now, @limit. */
export const SELECT_OVERDUE = `
SELECT id, attempt FROM tasks INDEXED BY tasks_queued_deadline
WHERE status = 'queued' AND deadline <= @now ORDER BY deadline LIMIT @limit`;

/** queued (@attempt) past its deadline → expired. Params: @taskId, @attempt, @now. Changes: 0|1. */
export const EXPIRE_TASK = `
UPDATE tasks SET status = 'expired', finished_at = @now, updated_at = @now
WHERE id = @taskId AND status = 'queued' AND attempt = @attempt AND deadline <= @now`;

const DISPATCH_COLUMNS = `id, attempt, type, required_capabilities, priority, not_before, trace_parent`;

/**
 * Dispatch scans name the partial index on queued tasks: it holds dispatched_at and not_before, so a sweep
 * skips tasks that are not due without reading their rows (the planner would otherwise pick (status, id)).
 */
const QUEUED_INDEX = `tasks INDEXED BY tasks_queued_dispatch`;

/** Queued tasks by id after @afterId ('' for the start). Params: @afterId, @limit. */
export const SELECT_QUEUED_FOR_DISPATCH = `
SELECT ${DISPATCH_COLUMNS} FROM ${QUEUED_INDEX} WHERE status = 'queued' AND id > @afterId ORDER BY id LIMIT @limit`;

/** As SELECT_QUEUED_FOR_DISPATCH, only those last dispatched and due at or before @dueBefore. */
export const SELECT_DUE_FOR_DISPATCH = `
SELECT ${DISPATCH_COLUMNS} FROM ${QUEUED_INDEX}
WHERE status = 'queued' AND id > @afterId AND dispatched_at <= @dueBefore AND not_before <= @dueBefore
ORDER BY id LIMIT @limit`;

/** Stamps queued tasks as just sent. Params: @ids (JSON array), @now. */
export const MARK_DISPATCHED = `
UPDATE tasks SET dispatched_at = @now WHERE status = 'queued' AND id IN (SELECT value FROM json_each(@ids))`;

/** Every route ever used, by key. */
export const SELECT_ROUTES = `SELECT type, capabilities FROM routes ORDER BY key`;

/**
 * Whether any route (so any task ever submitted) requires @capability: a task list filtered on a capability
 * no task has would otherwise scan every task for nothing. Params: @capability. Result: a row or none.
 */
export const SELECT_ROUTE_WITH_CAPABILITY = `
SELECT 1 AS found FROM routes WHERE EXISTS (SELECT 1 FROM json_each(capabilities) WHERE value = @capability) LIMIT 1`;

interface TaskKey {
  taskId: string;
  attempt: number;
  now: number;
}
type LeaseKey = TaskKey & { agentId: string };
type Json = string | null;
type RunMsRow = { run_ms: number | null; total_ms: number };

export interface NewTaskParams {
  id: string;
  type: string;
  maxAttempts: number;
  requiredCapabilities: string;
  routeKey: string;
  priority: string;
  payload: string;
  timeoutSeconds: number | null;
  notBefore: number;
  deadline: number | null;
  idempotencyKey: string | null;
  requestHash: string | null;
  submittedBy: string | null;
  traceParent: string | null;
  createdAt: number;
}

export interface TaskEventParams {
  taskId: string;
  at: number;
  kind: string;
  attempt: number;
  agentId: string | null;
  data: Json;
}

export function prepareTaskStatements(db: Database) {
  return {
    insertTask: db.prepare<NewTaskParams>(INSERT_TASK),
    selectTask: db.prepare<{ id: string }, TaskRow>(SELECT_TASK),
    selectTaskByKey: db.prepare<{ key: string }, TaskRow>(SELECT_TASK_BY_IDEMPOTENCY_KEY),
    insertTaskEvent: db.prepare<TaskEventParams>(INSERT_TASK_EVENT),
    insertRoute: db.prepare<{ key: string; type: string; capabilities: string; now: number }>(INSERT_ROUTE_IF_NEW),
    selectTaskEvents: db.prepare<{ taskId: string }, TaskEventRow>(SELECT_TASK_EVENTS),
    selectTaskEventsAfter: db.prepare<{ afterSeq: number; limit: number }, TaskEventRow>(SELECT_TASK_EVENTS_AFTER),
    selectLastTaskEventSeq: db.prepare<[], { seq: number }>(SELECT_LAST_TASK_EVENT_SEQ),
    claimTask: db.prepare<LeaseKey & { leaseUntil: number }, TaskRow>(CLAIM_TASK),
    renewLease: db.prepare<LeaseKey & { leaseUntil: number }, { cancel_requested: number }>(RENEW_LEASE),
    completeTask: db.prepare<LeaseKey & { result: string }, RunMsRow>(COMPLETE_TASK),
    failTaskRequeue: db.prepare<LeaseKey & { error: string; notBefore: number }, RunMsRow>(FAIL_TASK_REQUEUE),
    failTaskDead: db.prepare<LeaseKey & { error: string }, RunMsRow>(FAIL_TASK_DEAD),
    finishCancelled: db.prepare<LeaseKey>(FINISH_CANCELLED),
    releaseTask: db.prepare<LeaseKey>(RELEASE_TASK),
    cancelQueued: db.prepare<TaskKey>(CANCEL_QUEUED),
    requestCancelRunning: db.prepare<TaskKey>(REQUEST_CANCEL_RUNNING),
    selectExpiredLeases: db.prepare<{ now: number; limit: number }, LeaseDbRow>(SELECT_EXPIRED_LEASES),
    requeueExpiredLease: db.prepare<TaskKey & { notBefore: number }>(REQUEUE_EXPIRED_LEASE),
    killExpiredLease: db.prepare<TaskKey>(KILL_EXPIRED_LEASE),
    selectOverdue: db.prepare<{ now: number; limit: number }, { id: string; attempt: number }>(SELECT_OVERDUE),
    expireTask: db.prepare<TaskKey>(EXPIRE_TASK),
    selectQueued: db.prepare<{ afterId: string; limit: number }, DispatchDbRow>(SELECT_QUEUED_FOR_DISPATCH),
    selectDue: db.prepare<{ afterId: string; dueBefore: number; limit: number }, DispatchDbRow>(
      SELECT_DUE_FOR_DISPATCH,
    ),
    markDispatched: db.prepare<{ ids: string; now: number }>(MARK_DISPATCHED),
    selectRoutes: db.prepare<[], RouteRow>(SELECT_ROUTES),
    selectRouteWithCapability: db.prepare<{ capability: string }, { found: number }>(SELECT_ROUTE_WITH_CAPABILITY),
  };
}

export type TaskStatements = ReturnType<typeof prepareTaskStatements>;
