/**
 * Task writes of the SQLite adapter that read before they write, as functions over the prepared statements.
 * The caller runs each inside one IMMEDIATE transaction, so the row read is the row the write applies to.
 */
import { ConflictError } from '../../domain/errors';
import type { TaskEventKind, TaskRecord } from '../../domain/task';
import type { RetryDecision } from '../../domain/transitions';
import type { CancelOutcome, InsertOutcome, NewTask } from '../port';
import { toJson, toTask } from './rows';
import type { TaskStatements } from './statements';

export function appendTaskEvent(
  s: TaskStatements,
  e: { taskId: string; at: number; kind: TaskEventKind; attempt: number; agentId: string | null; data?: unknown },
): void {
  s.insertTaskEvent.run({ ...e, data: e.data === undefined ? null : JSON.stringify(e.data) });
}

/** The event that follows a failed or lost attempt: `retry_scheduled` { notBefore, delayMs } or `dead`. */
export function appendOutcomeEvent(
  s: TaskStatements,
  e: { taskId: string; at: number; attempt: number; agentId: string | null },
  decision: RetryDecision,
): void {
  if (decision.status === 'queued') {
    const data = { notBefore: decision.notBefore, delayMs: decision.delayMs };
    appendTaskEvent(s, { ...e, kind: 'retry_scheduled', data });
  } else {
    appendTaskEvent(s, { ...e, kind: 'dead' });
  }
}

/**
 * Inserts one task with its `submitted` event, or returns the task already holding its idempotency key (same
 * request hash), or throws ConflictError (another hash), rolling back the caller's batch. The caller records
 * the task's route (once per route of a batch).
 */
export function insertTask(s: TaskStatements, t: NewTask, capabilities: string[], route: string): InsertOutcome {
  if (t.idempotencyKey !== null) {
    const existing = s.selectTaskByKey.get({ key: t.idempotencyKey });
    if (existing) {
      if (existing.request_hash !== t.requestHash) {
        throw new ConflictError(
          `idempotency key "${t.idempotencyKey}" was already used for task ${existing.id} with a different request`,
        );
      }
      return { task: toTask(existing), created: false };
    }
  }
  const payload = toJson(t.payload);
  s.insertTask.run({
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
    createdAt: t.createdAt,
  });
  appendTaskEvent(s, { taskId: t.id, at: t.createdAt, kind: 'submitted', attempt: 0, agentId: null });
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
    createdAt: t.createdAt,
    startedAt: null,
    finishedAt: null,
    updatedAt: t.createdAt,
  };
}

/**
 * running (attempt, lease expired) → queued or dead as decided, with `lease_expired` (the last holder's, with
 * the expiry it missed) then `retry_scheduled` or `dead` (agent null). False, writing nothing, otherwise.
 */
export function requeueExpiredLease(
  s: TaskStatements,
  ref: { taskId: string; attempt: number; now: number; decision: RetryDecision },
): boolean {
  const { taskId, attempt, now, decision } = ref;
  const before = s.selectTask.get({ id: taskId });
  if (!before) return false;
  const key = { taskId, attempt, now };
  const changes =
    decision.status === 'queued'
      ? s.requeueExpiredLease.run({ ...key, notBefore: decision.notBefore }).changes
      : s.killExpiredLease.run(key).changes;
  if (changes === 0) return false;
  const data = { leaseExpiresAt: before.lease_expires_at };
  appendTaskEvent(s, { taskId, at: now, kind: 'lease_expired', attempt, agentId: before.agent_id, data });
  appendOutcomeEvent(s, { taskId, at: now, attempt, agentId: null }, decision);
  return true;
}

/** queued → cancelled; running → cancel requested (one event, however often asked); otherwise unchanged. */
export function requestCancel(
  s: TaskStatements,
  taskId: string,
  now: number,
): { outcome: CancelOutcome; task: TaskRecord | null } {
  const row = s.selectTask.get({ id: taskId });
  if (!row) return { outcome: 'not_found', task: null };
  const key = { taskId, attempt: row.attempt, now };
  const reread = () => {
    const after = s.selectTask.get({ id: taskId });
    return after ? toTask(after) : null;
  };
  if (row.status === 'queued') {
    s.cancelQueued.run(key);
    appendTaskEvent(s, { taskId, at: now, kind: 'cancelled', attempt: row.attempt, agentId: null });
    return { outcome: 'cancelled', task: reread() };
  }
  if (row.status === 'running') {
    if (s.requestCancelRunning.run(key).changes === 1) {
      appendTaskEvent(s, { taskId, at: now, kind: 'cancel_requested', attempt: row.attempt, agentId: row.agent_id });
    }
    return { outcome: 'requested', task: reread() };
  }
  return { outcome: 'already_terminal', task: toTask(row) };
}
