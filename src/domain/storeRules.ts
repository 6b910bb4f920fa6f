/**
 * What a store writes when it refuses a write or takes a lease back: decided once here and handed to both
 * adapters, which render these values into their statements (SQLite SQL and T-SQL) or write them as data. A
 * text changed here changes both stores at once; the contract suite checks that each store wrote exactly these.
 *
 * The agent states that refuse a claim are decided in `agent.ts` (CLAIM_REFUSED_STATES).
 */
import type { TaskError, TaskEventKind } from './task';
import type { RetryDecision } from './transitions';

/** Recorded on a task whose lease expired (kept on a dead task; cleared by the next claim). */
export const LEASE_EXPIRED_ERROR: Readonly<TaskError> = {
  kind: 'lease_expired',
  message: 'the worker stopped renewing its lease (it died, stalled or lost its connection)',
};

/** Recorded on a task whose lease the supervisor took back from a held agent (kept on a dead task). */
export const LEASE_RECLAIMED_ERROR: Readonly<TaskError> = {
  kind: 'lease_reclaimed',
  message: 'the supervisor took the lease back from a suspended agent',
};

/** The outcome a worker reported when its result was refused. */
export type ReportedOutcome = 'succeeded' | 'failed';

/**
 * The event appended when a completion or failure did not apply (a zombie's late result, a second completion,
 * a non-holder) while the task exists: the refusal is on the record, never the result.
 */
export const RESULT_REJECTED: TaskEventKind = 'result_rejected';

/** The data of a `result_rejected` event: which outcome was refused. */
export function resultRejectedData(outcome: ReportedOutcome): { outcome: ReportedOutcome } {
  return { outcome };
}

/** The ConflictError message of an idempotency key reused with a different request. */
export function idempotencyConflictMessage(key: string, taskId: string): string {
  return `idempotency key "${key}" was already used for task ${taskId} with a different request`;
}

/** The data of a `retry_scheduled` event: when the task is due again and the backoff that made it so. */
export function retryScheduledData(decision: Extract<RetryDecision, { status: 'queued' }>): {
  notBefore: number;
  delayMs: number;
} {
  return { notBefore: decision.notBefore, delayMs: decision.delayMs };
}

/** The `expired` event's data when a task expired because nothing could run it (the unroutable policy). */
export const UNROUTABLE_EXPIRY = { reason: 'unroutable' } as const;

/** The ConflictError message of a workflow idempotency key reused with a different request. */
export function workflowIdempotencyConflictMessage(key: string, workflowId: string): string {
  return `idempotency key "${key}" was already used for workflow ${workflowId} with a different request`;
}

/** Why a workflow change was refused whole: it names a step the workflow does not have (a planner bug). */
export function workflowUnknownStepMessage(workflowId: string, stepId: string): string {
  return `workflow ${workflowId} has no step "${stepId}": the change was not applied`;
}
