/**
 * How the worker repeats a store call that threw. A throw does not say whether the call was applied: a
 * connection can drop after the commit and before the answer. So only what is safe to repeat is repeated
 * blindly (reads); a report that ends an attempt reads the task back first and is sent again only while the
 * attempt is still running and held by this agent. A claim is never repeated (see Executor.claim).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isStoreFull } from '../../src/domain/errors';
import type { TaskRecord } from '../../src/domain/task';
import type { LeaseRef, Store } from '../../src/store/port';

export interface RetryPolicy {
  /** Calls in all, the first included. */
  attempts: number;
  /** The wait before the second call; it doubles before each further one. */
  baseMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseMs: 100 };

/** The longest wait between two tries of a report while the store is out of space. */
const STORE_FULL_MAX_WAIT_MS = 5_000;

/** Calls `fn` until it resolves or `policy.attempts` calls have thrown. Only for calls safe to repeat. */
export async function withRetries<T>(fn: () => Promise<T>, policy: RetryPolicy = DEFAULT_RETRY): Promise<T> {
  for (let call = 1; ; call++) {
    try {
      return await fn();
    } catch (err) {
      if (call >= policy.attempts) throw err;
      await sleep(policy.baseMs * 2 ** (call - 1));
    }
  }
}

/** Whether the attempt `ref` names is still running and held by its agent: a report for it was not applied. */
export function stillHeld(task: TaskRecord | null, ref: LeaseRef): boolean {
  return task?.status === 'running' && task.attempt === ref.attempt && task.agentId === ref.agentId;
}

/**
 * Sends a report that ends an attempt (`write`, conditional on the lease). When it throws, reads the task
 * before sending it again: still held by this attempt → the report was not applied, send it again; otherwise
 * it is not sent again, and the answer is whether the stored task shows this report (`shows`), so a success
 * that was committed but never acknowledged counts as applied instead of leaving a `result_rejected`.
 *
 * Resolves like `write`: true when the report was recorded, false when the store refused it.
 */
export async function reportOnce(
  store: Pick<Store, 'getTask'>,
  ref: LeaseRef,
  write: () => Promise<boolean>,
  shows: (task: TaskRecord, ref: LeaseRef) => boolean,
  policy: RetryPolicy = DEFAULT_RETRY,
): Promise<boolean> {
  for (let call = 1; ; call++) {
    try {
      if (call > 1) {
        const task = await store.getTask(ref.taskId);
        if (!stillHeld(task, ref)) return task !== null && shows(task, ref);
      }
      return await write();
    } catch (err) {
      // A full store frees up only when someone frees space: keep the result until then (the attempt's
      // fencing still decides, so it is recorded once, or not at all if the lease rules moved the task on).
      if (isStoreFull(err)) {
        await sleep(Math.min(STORE_FULL_MAX_WAIT_MS, policy.baseMs * 2 ** Math.min(call - 1, 16)));
        continue;
      }
      if (call >= policy.attempts) throw err;
      await sleep(policy.baseMs * 2 ** (call - 1));
    }
  }
}
