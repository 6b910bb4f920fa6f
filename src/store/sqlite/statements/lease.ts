/**
 * The lease-bound life of an attempt: claim, renew, complete, fail, finish a cancel, release. Twin of
 * `mssql/statements/lease.ts`; the writes that go with them (events, `result_rejected`) are in `../lease.ts`.
 *
 * Fencing: every write that belongs to a lease matches LEASE_HELD (status running, the caller's attempt and
 * agent), so a worker whose attempt was requeued, reclaimed or finished changes nothing (`changes` = 0).
 * Writes with RETURNING are run with `.all()`, never `.get()` (see FACTS.md: `.get()` leaves the statement
 * unfinished and blocks WAL checkpoints). Parameters are named (`@name`); times are epoch milliseconds.
 */
import type { Database } from 'better-sqlite3';
import { CLAIM_REFUSED_STATES } from '../../../domain/agent';
import type { LeaseKey } from '../../shared';
import { sqlStringList } from '../../sqlLiteral';
import type { TaskRow } from '../rows';

/** The lease key (@taskId, @attempt, @agentId; @now for the write): the attempt is running and held by @agentId. */
export const LEASE_HELD = `id = @taskId AND status = 'running' AND attempt = @attempt AND agent_id = @agentId`;

/**
 * CLAIM_TASK: claims the dispatch @attempt of a queued task whose deadline has not passed: running, attempt + 1,
 * lease until @leaseUntil. Params: @taskId, @attempt, @agentId, @now, @leaseUntil. Result: the updated row, or
 * none when the task is not queued at that attempt (another claim won, cancelled, expired), is overdue, or the
 * agent is in one of CLAIM_REFUSED_STATES (src/domain/agent.ts): a worker learns its state only at its next
 * heartbeat, so the registry itself refuses a held agent's claims (an agent it does not know may claim).
 * The previous attempt's progress is cleared: progress belongs to the attempt that runs.
 */
export const CLAIM_TASK = `
UPDATE tasks SET status = 'running', attempt = attempt + 1, agent_id = @agentId, lease_expires_at = @leaseUntil,
  started_at = @now, error = NULL, progress = NULL, progress_at = NULL, updated_at = @now
WHERE id = @taskId AND status = 'queued' AND attempt = @attempt AND (deadline IS NULL OR deadline > @now)
  AND NOT EXISTS (SELECT 1 FROM agents WHERE agents.id = @agentId
                  AND agents.state IN (${sqlStringList(CLAIM_REFUSED_STATES)}))
RETURNING *`;

/** RENEW_LEASE: extends a held lease. Params: lease key, @leaseUntil. Result: cancel_requested, or none when not held. */
export const RENEW_LEASE = `
UPDATE tasks SET lease_expires_at = @leaseUntil, updated_at = @now WHERE ${LEASE_HELD}
RETURNING cancel_requested`;

/**
 * The attempt's run time, returned by the writes that end it (started_at belongs to the current attempt: every
 * claim sets it). Result of those writes: one row { run_ms } when the lease was held, none otherwise.
 */
const RETURNING_RUN_MS = `RETURNING @now - started_at AS run_ms, @now - created_at AS total_ms`;

/** COMPLETE_TASK: running → succeeded for the lease holder. Params: lease key, @result (JSON). Result: { run_ms } or none. */
export const COMPLETE_TASK = `
UPDATE tasks SET status = 'succeeded', result = @result, lease_expires_at = NULL, finished_at = @now, updated_at = @now
WHERE ${LEASE_HELD}
${RETURNING_RUN_MS}`;

/**
 * FAIL_TASK_REQUEUE (FAIL_TASK with @requeue = 1 on mssql): running → queued after a failure, for the holder.
 * Params: lease key, @error (JSON), @notBefore. Result: { run_ms } or none.
 */
export const FAIL_TASK_REQUEUE = `
UPDATE tasks SET status = 'queued', error = @error, agent_id = NULL, lease_expires_at = NULL,
  not_before = @notBefore, dispatched_at = @now, updated_at = @now
WHERE ${LEASE_HELD}
${RETURNING_RUN_MS}`;

/**
 * FAIL_TASK_DEAD (FAIL_TASK with @requeue = 0 on mssql): running → dead after a failure, for the lease holder.
 * Params: lease key, @error (JSON). Result: { run_ms } or none.
 */
export const FAIL_TASK_DEAD = `
UPDATE tasks SET status = 'dead', error = @error, lease_expires_at = NULL, finished_at = @now, updated_at = @now
WHERE ${LEASE_HELD}
${RETURNING_RUN_MS}`;

/** FINISH_CANCELLED: running with cancel requested → cancelled, for the lease holder. Params: lease key. Changes: 0|1. */
export const FINISH_CANCELLED = `
UPDATE tasks SET status = 'cancelled', lease_expires_at = NULL, finished_at = @now, updated_at = @now
WHERE ${LEASE_HELD} AND cancel_requested = 1`;

/** RELEASE_TASK: running → queued, handed back by the holder, dispatchable at once. Params: lease key. Changes: 0|1. */
export const RELEASE_TASK = `
UPDATE tasks SET status = 'queued', agent_id = NULL, lease_expires_at = NULL, not_before = @now,
  dispatched_at = @now, updated_at = @now
WHERE ${LEASE_HELD}`;

type RunMsRow = { run_ms: number | null; total_ms: number };

export function prepareLeaseStatements(db: Database) {
  return {
    claimTask: db.prepare<LeaseKey & { leaseUntil: number }, TaskRow>(CLAIM_TASK),
    renewLease: db.prepare<LeaseKey & { leaseUntil: number }, { cancel_requested: number }>(RENEW_LEASE),
    completeTask: db.prepare<LeaseKey & { result: string }, RunMsRow>(COMPLETE_TASK),
    failTaskRequeue: db.prepare<LeaseKey & { error: string; notBefore: number }, RunMsRow>(FAIL_TASK_REQUEUE),
    failTaskDead: db.prepare<LeaseKey & { error: string }, RunMsRow>(FAIL_TASK_DEAD),
    finishCancelled: db.prepare<LeaseKey>(FINISH_CANCELLED),
    releaseTask: db.prepare<LeaseKey>(RELEASE_TASK),
  };
}

export type LeaseStatements = ReturnType<typeof prepareLeaseStatements>;
