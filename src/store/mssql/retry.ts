/**
 * Transient-fault retries: exponential backoff with equal jitter (the domain's backoff), each attempt on a
 * connection the pool hands out afresh. The pool validates a connection before handing it out (socket mode:
 * logged in, socket open and writable), so one the server closed or whose socket failed is dropped and a new
 * one logged in; a connection that merely lost a deadlock is healthy and may serve the retry.
 *
 * What may be retried is decided by errors.ts: a fault after which nothing was applied (the server refused or
 * rolled the request back, or no connection was had), for any operation; a fault of unknown outcome (the
 * connection dropped or timed out after the request left) only for an idempotent one. Every multi-statement
 * write is one transaction with XACT_ABORT ON, so whichever way it fails, nothing is half-written.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelayMs } from '../../domain/backoff';
import { UnavailableError } from '../../domain/errors';
import { classifySqlError, isRetryable, messageOf, SqlStoreError, storeFullError } from './errors';

export interface RetryPolicy {
  /** Attempts in all (1 = no retry). */
  attempts: number;
  baseMs: number;
  maxMs: number;
}

export interface RetryHooks {
  sleep?: (ms: number) => Promise<unknown>;
  random?: () => number;
  /** Called before each retry (for logs and tests). */
  onRetry?: (info: { statement: string; attempt: number; delayMs: number; error: unknown }) => void;
}

/**
 * Runs `op` until it succeeds, fails for good, or runs out of attempts. A transient failure that ends the
 * retries becomes UnavailableError; any other SqlStoreError (or what `mapError` makes of it).
 */
export async function withTransientRetry<T>(
  statement: string,
  op: () => Promise<T>,
  opts: { idempotent: boolean; policy: RetryPolicy; hooks?: RetryHooks; mapError?: (err: unknown) => Error | null },
): Promise<T> {
  const { policy, hooks = {} } = opts;
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      const mapped = opts.mapError?.(err) ?? storeFullError(statement, err);
      if (mapped) throw mapped;
      const c = classifySqlError(err);
      if (!c.transient) throw new SqlStoreError(statement, c.numbers, { cause: err });
      if (!isRetryable(c, opts.idempotent) || attempt >= policy.attempts) {
        const why = isRetryable(c, opts.idempotent)
          ? `still failing after ${attempt} attempts`
          : 'the connection failed with the outcome unknown, and the operation is not safe to repeat';
        throw new UnavailableError(`mssql: ${statement}: ${why}: ${messageOf(err)}`, { cause: err });
      }
      const delayMs = backoffDelayMs(attempt, { baseMs: policy.baseMs, maxMs: policy.maxMs }, hooks.random);
      hooks.onRetry?.({ statement, attempt, delayMs, error: err });
      await (hooks.sleep ?? sleep)(delayMs);
    }
  }
}
