/**
 * Lifecycle decisions, made once here so every store adapter only performs the conditional writes.
 *
 * queued → running (claim; attempt + 1) → succeeded
 *                                       → queued (failure or lease expiry with attempts left; not_before set)
 *                                       → dead (attempts spent)
 *                                       → cancelled (cooperative cancel acknowledged by the worker)
 *                                       → queued (released by a draining worker)
 * queued → cancelled (cancel) | expired (deadline passed before a claim)
 * dead | cancelled | expired → queued (retry on demand; attempt keeps counting, max_attempts grows)
 */
import { backoffDelayMs, type BackoffPolicy } from './backoff';
import type { TaskStatus } from './task';

export type RetryDecision = { status: 'queued'; notBefore: number; delayMs: number } | { status: 'dead' };

/** After attempt `attempt` failed (handler error or timeout); a permanent failure is never retried. */
export function afterFailure(
  task: { attempt: number; maxAttempts: number },
  now: number,
  policy: BackoffPolicy,
  opts: { permanent?: boolean; random?: () => number } = {},
): RetryDecision {
  if (opts.permanent || task.attempt >= task.maxAttempts) return { status: 'dead' };
  const delayMs = backoffDelayMs(task.attempt, policy, opts.random);
  return { status: 'queued', notBefore: now + delayMs, delayMs };
}

/** After the lease of `attempt` expired: the worker is presumed dead; its lease time was the wait already. */
export function afterLeaseExpiry(task: { attempt: number; maxAttempts: number }, now: number): RetryDecision {
  if (task.attempt >= task.maxAttempts) return { status: 'dead' };
  return { status: 'queued', notBefore: now, delayMs: 0 };
}

/**
 * Every change of a task's status the stores make, and no other: the contract suite records each status change
 * the stores write across the whole suite and checks both ways (each is allowed here, each allowed one happens),
 * so this table stays the truth about the stores. A new transition (an admin retry of a dead task, say) is added
 * here together with the store method that performs it.
 */
export const TRANSITIONS: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  queued: ['running', 'cancelled', 'expired'],
  running: ['succeeded', 'queued', 'dead', 'cancelled'],
  succeeded: [],
  dead: ['queued'],
  cancelled: ['queued'],
  expired: ['queued'],
};

/** The states `POST /v1/tasks/:id/retry` and the bulk retry take back to `queued`. */
export const RETRYABLE_STATUSES = ['dead', 'cancelled', 'expired'] as const satisfies readonly TaskStatus[];
/** The states the bulk cancel acts on: queued ones are cancelled at once, running ones asked to stop. */
export const CANCELLABLE_STATUSES = ['queued', 'running'] as const satisfies readonly TaskStatus[];

export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return TRANSITIONS[from].includes(to);
}
