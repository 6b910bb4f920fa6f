/**
 * Lifecycle decisions, made once here so every store adapter only performs the conditional writes.
 *
 * queued → running (claim; attempt + 1) → succeeded
 *                                       → queued (failure or lease expiry with attempts left; not_before set)
 *                                       → dead (attempts spent)
 *                                       → cancelled (cooperative cancel acknowledged by the worker)
 *                                       → queued (released by a draining worker)
 * queued → cancelled (cancel) | expired (deadline passed before a claim)
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

const ALLOWED: Record<TaskStatus, readonly TaskStatus[]> = {
  queued: ['running', 'cancelled', 'expired'],
  running: ['succeeded', 'queued', 'dead', 'cancelled'],
  succeeded: [],
  dead: ['queued'], // an admin retry of a dead task
  cancelled: [],
  expired: [],
};

export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return ALLOWED[from].includes(to);
}
