/**
 * Task submission, reads and the task event log of the SQLite adapter, over the prepared statements. Twin of
 * `mssql/tasks.ts` (which shapes one INSERT_TASKS batch): here each task of a batch is inserted in turn, inside
 * the one IMMEDIATE transaction the caller runs, so the idempotency key read is the row the insert competes with.
 */
import type { Database } from 'better-sqlite3';
import { normaliseCapabilities, routeKey } from '../../domain/capabilities';
import { ConflictError } from '../../domain/errors';
import { idempotencyConflictMessage, retryScheduledData } from '../../domain/storeRules';
import type { TaskEvent, TaskEventKind, TaskRecord } from '../../domain/task';
import type { RetryDecision } from '../../domain/transitions';
import type { InsertOutcome, NewTask, TaskFilter } from '../port';
import { TaskListStatements } from '../shared';
import { toJson, toTask, toTaskEvent, type TaskRow } from './rows';
import type { SqliteStatements } from './statements';
import { listTasksStatement } from './statements/tasks';

/** Appends a task event; `data` is stored as JSON (none when undefined). */
export function appendTaskEvent(
  statements: SqliteStatements,
  event: { taskId: string; at: number; kind: TaskEventKind; attempt: number; agentId: string | null; data?: unknown },
): void {
  statements.tasks.insertTaskEvent.run({
    ...event,
    data: event.data === undefined ? null : JSON.stringify(event.data),
  });
}

/** The event that follows a failed or lost attempt: `retry_scheduled` { notBefore, delayMs } or `dead`. */
export function appendOutcomeEvent(
  statements: SqliteStatements,
  event: { taskId: string; at: number; attempt: number; agentId: string | null },
  decision: RetryDecision,
): void {
  if (decision.status === 'queued') {
    appendTaskEvent(statements, { ...event, kind: 'retry_scheduled', data: retryScheduledData(decision) });
  } else {
    appendTaskEvent(statements, { ...event, kind: 'dead' });
  }
}

/**
 * Inserts one task with its `submitted` event, or returns the task already holding its idempotency key (same
 * request hash), or throws ConflictError (another hash), rolling back the caller's batch. The caller records
 * the task's route (once per route of a batch).
 */
function insertTask(statements: SqliteStatements, t: NewTask, capabilities: string[], route: string): InsertOutcome {
  if (t.idempotencyKey !== null) {
    const existing = statements.tasks.selectTaskByKey.get({ key: t.idempotencyKey });
    if (existing) {
      if (existing.request_hash !== t.requestHash) {
        throw new ConflictError(idempotencyConflictMessage(t.idempotencyKey, existing.id));
      }
      return { task: toTask(existing), created: false };
    }
  }
  const payload = toJson(t.payload);
  statements.tasks.insertTask.run({
    id: t.id,
    type: t.type,
    maxAttempts: t.maxAttempts,
    requiredCapabilities: JSON.stringify(capabilities),
    routeKey: route,
    priority: t.priority,
    payload,
    timeoutSeconds: t.timeoutSeconds,
    notBefore: t.notBefore,
    deadline: t.deadline,
    idempotencyKey: t.idempotencyKey,
    requestHash: t.requestHash,
    submittedBy: t.submittedBy ?? null, // tolerate callers built before the field existed
    traceParent: t.traceParent ?? null,
    sensitive: t.sensitive === true ? 1 : 0,
    callbackUrl: t.callbackUrl ?? null,
    workflow: t.workflow ? JSON.stringify(t.workflow) : null,
    createdAt: t.createdAt,
  });
  appendTaskEvent(statements, { taskId: t.id, at: t.createdAt, kind: 'submitted', attempt: 0, agentId: null });
  return { task: insertedTask(t, capabilities, payload), created: true };
}

/**
 * The record of a task just inserted, built from what was inserted rather than read back: every column of a
 * new task is either given or a constant. An object payload is the stored copy parsed back, so the record
 * never shares objects with the caller.
 */
function insertedTask(t: NewTask, capabilities: string[], payloadJson: string): TaskRecord {
  return {
    id: t.id,
    type: t.type,
    status: 'queued',
    attempt: 0,
    maxAttempts: t.maxAttempts,
    requiredCapabilities: capabilities,
    priority: t.priority,
    payload: typeof t.payload === 'object' && t.payload !== null ? JSON.parse(payloadJson) : (t.payload ?? null),
    result: null,
    error: null,
    agentId: null,
    leaseExpiresAt: null,
    cancelRequested: false,
    timeoutSeconds: t.timeoutSeconds,
    notBefore: t.notBefore,
    deadline: t.deadline,
    idempotencyKey: t.idempotencyKey,
    requestHash: t.requestHash,
    submittedBy: t.submittedBy ?? null,
    traceParent: t.traceParent ?? null,
    sensitive: t.sensitive === true,
    callbackUrl: t.callbackUrl ?? null,
    ...(t.workflow ? { workflow: JSON.parse(JSON.stringify(t.workflow)) as typeof t.workflow } : {}),
    createdAt: t.createdAt,
    startedAt: null,
    finishedAt: null,
    updatedAt: t.createdAt,
  };
}

/**
 * Normalises each task's capabilities (a ValidationError before anything is written). The returned write
 * inserts the batch, in the caller's transaction, recording each new route once.
 */
export function prepareInsert(tasks: readonly NewTask[]): (statements: SqliteStatements) => InsertOutcome[] {
  const capabilitySets = tasks.map((t, i) =>
    normaliseCapabilities(t.requiredCapabilities, `tasks[${i}].requiredCapabilities`),
  );
  const routes = capabilitySets.map((caps, i) => routeKey(tasks[i]!.type, caps));
  return (statements) => {
    const outcomes = tasks.map((t, i) => insertTask(statements, t, capabilitySets[i] ?? [], routes[i]!));
    const recorded = new Set<string>();
    outcomes.forEach(({ task, created }, i) => {
      const route = routes[i]!;
      if (!created || recorded.has(route)) return;
      recorded.add(route);
      const capabilities = JSON.stringify(task.requiredCapabilities);
      statements.tasks.insertRoute.run({ key: route, type: task.type, capabilities, now: task.createdAt });
    });
    return outcomes;
  };
}

export function findTask(statements: SqliteStatements, id: string): TaskRecord | null {
  const row = statements.tasks.selectTask.get({ id });
  return row ? toTask(row) : null;
}

/** The cache of LIST_TASKS statements of one connection. */
export function taskListStatements(db: Database) {
  return new TaskListStatements((shape) => db.prepare<Record<string, unknown>, TaskRow>(listTasksStatement(shape)));
}

export function listTasks(
  statements: SqliteStatements,
  lists: ReturnType<typeof taskListStatements>,
  filter: TaskFilter,
): TaskRecord[] {
  // A capability no route requires matches nothing: answer without scanning every task for it.
  if (
    filter.capability !== undefined &&
    !statements.tasks.selectRouteWithCapability.get({ capability: filter.capability })
  ) {
    return [];
  }
  return lists
    .forFilter(filter)
    .all({ ...filter })
    .map(toTask);
}

export function listTaskEvents(statements: SqliteStatements, taskId: string): TaskEvent[] {
  return statements.tasks.selectTaskEvents.all({ taskId }).map(toTaskEvent);
}
