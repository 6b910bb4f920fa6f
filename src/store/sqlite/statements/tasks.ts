/**
 * Task submission and reads: the statements behind insertTasks, getTask, listTasks, the task events and the
 * routes. Twin of `mssql/statements/tasks.ts` (which inserts a whole batch in one INSERT_TASKS; here
 * `../tasks.ts` runs INSERT_TASK per task inside one transaction). Parameters are named (`@name`); times are
 * epoch milliseconds.
 */
import type { TaskHeadRow } from '../../rowMapping';
import type { Database } from 'better-sqlite3';
import type { TaskListShape } from '../../shared';
import type { RouteRow, TaskEventRow, TaskRow } from '../rows';

export type { TaskListShape } from '../../shared';

/** INSERT_TASK: inserts a queued task. Params: every column but the lease, result and run times. */
export const INSERT_TASK = `
INSERT INTO tasks (id, type, status, attempt, max_attempts, required_capabilities, route_key, priority, payload,
  cancel_requested, timeout_seconds, not_before, deadline, idempotency_key, request_hash, submitted_by,
  trace_parent, sensitive, callback_url, workflow, dispatched_at, created_at, updated_at)
VALUES (@id, @type, 'queued', 0, @maxAttempts, @requiredCapabilities, @routeKey, @priority, @payload,
  0, @timeoutSeconds, @notBefore, @deadline, @idempotencyKey, @requestHash, @submittedBy,
  @traceParent, @sensitive, @callbackUrl, @workflow, @createdAt, @createdAt, @createdAt)`;

/** SELECT_TASK: one task by id. Params: @id. Result: the row or none. */
export const SELECT_TASK = `SELECT * FROM tasks WHERE id = @id`;

/** SELECT_TASK_BY_IDEMPOTENCY_KEY: the task holding an idempotency key. Params: @key. Result: the row or none. */
export const SELECT_TASK_BY_IDEMPOTENCY_KEY = `SELECT * FROM tasks WHERE idempotency_key = @key`;

/** INSERT_TASK_EVENT: appends a task event. Params: @taskId, @at, @kind, @attempt, @agentId, @data (JSON or null). */
export const INSERT_TASK_EVENT = `
INSERT INTO task_events (task_id, at, kind, attempt, agent_id, data)
VALUES (@taskId, @at, @kind, @attempt, @agentId, @data)`;

/** INSERT_ROUTE_IF_NEW: records a route the first time a task is submitted on it. Params: @key, @type, @capabilities (JSON), @now. */
export const INSERT_ROUTE_IF_NEW = `
INSERT OR IGNORE INTO routes (key, type, capabilities, created_at) VALUES (@key, @type, @capabilities, @now)`;

/** SELECT_TASK_EVENTS: a task's events in order. Params: @taskId. Result: event rows by seq. */
export const SELECT_TASK_EVENTS = `SELECT * FROM task_events WHERE task_id = @taskId ORDER BY seq`;

/** SELECT_TASK_EVENTS_AFTER: every task's events after @afterSeq, in order (the metrics tail). Params: @afterSeq, @limit. */
export const SELECT_TASK_EVENTS_AFTER = `SELECT * FROM task_events WHERE seq > @afterSeq ORDER BY seq LIMIT @limit`;

/**
 * SELECT_TASK_EVENTS_OF_KINDS: the events of @kinds (JSON array) with @afterSeq < seq <= @upToSeq, in order (the
 * webhook outbox). A range of the primary key, each row's kind checked there. Params: @afterSeq, @upToSeq,
 * @kinds, @limit.
 */
export const SELECT_TASK_EVENTS_OF_KINDS = `
SELECT * FROM task_events
WHERE seq > @afterSeq AND seq <= @upToSeq AND kind IN (SELECT value FROM json_each(@kinds))
ORDER BY seq LIMIT @limit`;

/** SELECT_LAST_TASK_EVENT_SEQ: the newest event's seq (0 when there is none). Result: { seq } or none. */
export const SELECT_LAST_TASK_EVENT_SEQ = `SELECT seq FROM task_events ORDER BY seq DESC LIMIT 1`;

/**
 * SELECT_TASK_HEADS: the type, route, submitter and callback URL of each task among @ids (JSON array).
 * Result: { id, type, route_key, submitted_by, callback_url } rows.
 */
export const SELECT_TASK_HEADS = `
SELECT id, type, route_key, submitted_by, callback_url FROM tasks WHERE id IN (SELECT value FROM json_each(@ids))`;

/**
 * LIST_TASKS, newest first: one statement per combination of filters present, so each gets its own plan
 * (an `@x IS NULL OR …` form would stop SQLite from using (status, id) or (type, id) for keyset paging).
 * Params: @status, @type, @capability, @beforeId, @submittedBy for the filters present, @limit. Result: task rows.
 */
export function listTasksStatement(shape: TaskListShape): string {
  const where: string[] = [];
  if (shape.status) where.push('status = @status');
  if (shape.type) where.push('type = @type');
  if (shape.capability) where.push('EXISTS (SELECT 1 FROM json_each(required_capabilities) WHERE value = @capability)');
  if (shape.beforeId) where.push('id < @beforeId');
  if (shape.submittedBy) where.push('submitted_by = @submittedBy');
  const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  return `SELECT * FROM tasks ${clause} ORDER BY id DESC LIMIT @limit`;
}

/** SELECT_ROUTES: every route ever used, by key. */
export const SELECT_ROUTES = `SELECT type, capabilities FROM routes ORDER BY key`;

/**
 * SELECT_ROUTE_WITH_CAPABILITY: whether any route (so any task ever submitted) requires @capability: a task list
 * filtered on a capability no task has would otherwise scan every task for nothing. Params: @capability.
 * Result: a row or none.
 */
export const SELECT_ROUTE_WITH_CAPABILITY = `
SELECT 1 AS found FROM routes WHERE EXISTS (SELECT 1 FROM json_each(capabilities) WHERE value = @capability) LIMIT 1`;

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
  /** 0 or 1. */
  sensitive: number;
  callbackUrl: string | null;
  /** A workflow step's context, JSON (null outside a workflow). */
  workflow: string | null;
  createdAt: number;
}

export interface TaskEventParams {
  taskId: string;
  at: number;
  kind: string;
  attempt: number;
  agentId: string | null;
  data: string | null;
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
    selectTaskEventsOfKinds: db.prepare<
      { afterSeq: number; upToSeq: number; kinds: string; limit: number },
      TaskEventRow
    >(SELECT_TASK_EVENTS_OF_KINDS),
    selectLastTaskEventSeq: db.prepare<[], { seq: number }>(SELECT_LAST_TASK_EVENT_SEQ),
    selectTaskHeads: db.prepare<{ ids: string }, TaskHeadRow>(SELECT_TASK_HEADS),
    selectRoutes: db.prepare<[], RouteRow>(SELECT_ROUTES),
    selectRouteWithCapability: db.prepare<{ capability: string }, { found: number }>(SELECT_ROUTE_WITH_CAPABILITY),
  };
}

export type TaskStatements = ReturnType<typeof prepareTaskStatements>;
