/**
 * The lease-bound writes of the mssql adapter (twin of `sqlite/lease.ts`): the parameters the T-SQL batches of
 * `statements/lease.ts` (and the reclaim and reaper batches) need beyond the lease key.
 */
import { retryScheduledData } from '../../domain/storeRules';
import type { RetryDecision } from '../../domain/transitions';

/** The decision's parameters: requeue, its not_before, and the `retry_scheduled` data (or `dead`: none). */
export function decisionParams(decision: RetryDecision) {
  return decision.status === 'queued'
    ? {
        requeue: true,
        notBefore: decision.notBefore,
        outcomeData: JSON.stringify(retryScheduledData(decision)),
      }
    : { requeue: false, notBefore: null, outcomeData: null };
}

/**
 * The head of a `failed` event's JSON: the error's fields, then `"runMs":`, which FAIL_TASK completes with the
 * run time it measures and `}`. Once completed it equals JSON.stringify({ ...error, runMs }).
 */
export function runMsHead(fields: object): string {
  const { runMs: _ignored, ...rest } = fields as Record<string, unknown>;
  const text = JSON.stringify(rest);
  return text === '{}' ? '{"runMs":' : `${text.slice(0, -1)},"runMs":`;
}
