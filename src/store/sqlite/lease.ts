/**
 * The lease-bound life of an attempt in the SQLite adapter: claim, renew, complete, fail, finish a cancel,
 * release. Twin of the T-SQL batches of `mssql/statements/lease.ts`: what one batch does there (the write, its
 * events, `result_rejected` when it did not apply) is a function here, which the caller runs inside one
 * IMMEDIATE transaction of the group commit. These are the hot path: each allocates only the parameters it
 * binds and the record it returns (no closures).
 */
import { RESULT_REJECTED, resultRejectedData, type ReportedOutcome } from '../../domain/storeRules';
import type { TaskError, TaskEventKind } from '../../domain/task';
import type { RetryDecision } from '../../domain/transitions';
import type { ClaimResult, LeaseRef, RenewResult } from '../port';
import { leaseKey } from '../shared';
import { toJson, toTask } from './rows';
import type { SqliteStatements } from './statements';
import { appendOutcomeEvent, appendTaskEvent, findTask } from './tasks';

/** CLAIM_TASK and its `started` event { waitMs }; the current task when the claim lost. */
export function claimTask(statements: SqliteStatements, ref: LeaseRef & { leaseMs: number }): ClaimResult {
  const [row] = statements.lease.claimTask.all({ ...leaseKey(ref), leaseUntil: ref.now + ref.leaseMs });
  if (!row) {
    const current = findTask(statements, ref.taskId);
    const routeHeld =
      current?.status === 'queued' &&
      statements.lease.selectRouteHeld.all({ taskId: ref.taskId, now: ref.now }).length > 0;
    return routeHeld ? { claimed: false, current, routeHeld } : { claimed: false, current };
  }
  statements.lease.spendRouteClaim.run({ routeKey: row.route_key, taskId: row.id, now: ref.now });
  // waitMs: how long the task waited to start since it became due (submit, delay or backoff).
  appendTaskEvent(statements, {
    taskId: row.id,
    at: ref.now,
    kind: 'started',
    attempt: row.attempt,
    agentId: ref.agentId,
    data: { waitMs: ref.now - row.not_before },
  });
  return { claimed: true, task: toTask(row) };
}

export function renewLease(statements: SqliteStatements, ref: LeaseRef & { leaseMs: number }): RenewResult {
  const [row] = statements.lease.renewLease.all({ ...leaseKey(ref), leaseUntil: ref.now + ref.leaseMs });
  return row ? { held: true, cancelRequested: row.cancel_requested === 1 } : { held: false, cancelRequested: false };
}

/** COMPLETE_TASK with `succeeded` { runMs, totalMs }; otherwise `result_rejected`. */
export function completeTask(statements: SqliteStatements, ref: LeaseRef & { result: unknown }): boolean {
  const [held] = statements.lease.completeTask.all({ ...leaseKey(ref), result: toJson(ref.result) });
  if (!held) return rejectResult(statements, ref, 'succeeded');
  leaseEvent(statements, ref, 'succeeded', { runMs: held.run_ms, totalMs: held.total_ms });
  return true;
}

/** FAIL_TASK_REQUEUE or FAIL_TASK_DEAD as decided, with `failed` then the outcome; otherwise `result_rejected`. */
export function failTask(
  statements: SqliteStatements,
  ref: LeaseRef & { error: TaskError; decision: RetryDecision },
): boolean {
  const { decision } = ref;
  const params = { ...leaseKey(ref), error: toJson(ref.error) };
  const [held] =
    decision.status === 'queued'
      ? statements.lease.failTaskRequeue.all({ ...params, notBefore: decision.notBefore })
      : statements.lease.failTaskDead.all(params);
  if (!held) return rejectResult(statements, ref, 'failed');
  leaseEvent(statements, ref, 'failed', { ...ref.error, runMs: held.run_ms });
  appendOutcomeEvent(
    statements,
    { taskId: ref.taskId, at: ref.now, attempt: ref.attempt, agentId: ref.agentId },
    decision,
  );
  return true;
}

export function finishCancelled(statements: SqliteStatements, ref: LeaseRef): boolean {
  if (statements.lease.finishCancelled.run(leaseKey(ref)).changes === 0) return false;
  leaseEvent(statements, ref, 'cancelled');
  return true;
}

export function releaseTask(statements: SqliteStatements, ref: LeaseRef): boolean {
  if (statements.lease.releaseTask.run(leaseKey(ref)).changes === 0) return false;
  leaseEvent(statements, ref, 'released');
  return true;
}

/**
 * A completion or failure that did not apply (stale attempt, not running, not the holder) is recorded as
 * RESULT_REJECTED on the task, in the same transaction, unless the task does not exist at all. Always false.
 */
function rejectResult(statements: SqliteStatements, ref: LeaseRef, outcome: ReportedOutcome): false {
  if (statements.tasks.selectTask.get({ id: ref.taskId })) {
    leaseEvent(statements, ref, RESULT_REJECTED, resultRejectedData(outcome));
  }
  return false;
}

/** Appends the event of a lease-bound write, by the attempt that `ref` names, at its time. */
function leaseEvent(statements: SqliteStatements, ref: LeaseRef, kind: TaskEventKind, data?: unknown): void {
  appendTaskEvent(statements, {
    taskId: ref.taskId,
    at: ref.now,
    kind,
    attempt: ref.attempt,
    agentId: ref.agentId,
    data,
  });
}
