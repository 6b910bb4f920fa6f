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
 * The previous attempt's progress is cleared: progress belongs to the attempt that runs. A route control that
 * holds the task's route refuses the claim too (routeOpen): then SPEND_ROUTE_CLAIM, in the same transaction,
 * spends the bucket's token and takes the probe.
 */
export const CLAIM_TASK = `
UPDATE tasks SET status = 'running', attempt = attempt + 1, agent_id = @agentId, lease_expires_at = @leaseUntil,
  started_at = @now, error = NULL, progress = NULL, progress_at = NULL, updated_at = @now
WHERE id = @taskId AND status = 'queued' AND attempt = @attempt AND (deadline IS NULL OR deadline > @now)
  AND NOT EXISTS (SELECT 1 FROM agents WHERE agents.id = @agentId
                  AND agents.state IN (${sqlStringList(CLAIM_REFUSED_STATES)}))
  AND NOT EXISTS (SELECT 1 FROM route_controls AS c WHERE c.route_key = tasks.route_key AND NOT (${routeOpen('c')}))
RETURNING *`;

/**
 * Whether the route control `c` lets task @taskId start at @now (src/domain/routeControl.ts): not paused, the
 * circuit closed or half-open without another probe, fewer running than the cap, a token in the bucket. A route
 * without a control row is always open (the NOT EXISTS above finds nothing: one primary-key probe per claim).
 */
function routeOpen(c: string): string {
  return `${c}.paused = 0 AND ${c}.circuit <> 'open'
    AND (${c}.circuit = 'closed' OR ${c}.probe_task_id IS NULL OR ${c}.probe_task_id = @taskId)
    AND (${c}.concurrency_cap IS NULL OR (SELECT COUNT(*) FROM tasks AS r
         WHERE r.status = 'running' AND r.route_key = ${c}.route_key) < ${c}.concurrency_cap)
    AND (${c}.rate_limit IS NULL OR ${tokensNow(c)} >= 1)`;
}

/** The tokens of `c`'s bucket at @now: refilled at its rate since tokens_at (never backwards), at most its size. */
function tokensNow(c: string): string {
  return `MIN(MAX(1.0, ${c}.rate_limit), ${c}.tokens + MAX(0, @now - COALESCE(${c}.tokens_at, @now)) * ${c}.rate_limit / 1000.0)`;
}

/**
 * SPEND_ROUTE_CLAIM: after a claim of @taskId on @routeKey, spends a token of a rate-limited route and makes the
 * task a half-open route's probe. Params: @routeKey, @taskId, @now. Changes: 0 for a route without either.
 */
export const SPEND_ROUTE_CLAIM = `
UPDATE route_controls SET
  tokens = CASE WHEN rate_limit IS NULL THEN tokens ELSE ${tokensNow('route_controls')} - 1 END,
  tokens_at = CASE WHEN rate_limit IS NULL THEN tokens_at ELSE MAX(@now, COALESCE(tokens_at, @now)) END,
  probe_task_id = CASE WHEN circuit = 'half_open' AND probe_task_id IS NULL THEN @taskId ELSE probe_task_id END
WHERE route_key = @routeKey AND (rate_limit IS NOT NULL OR circuit = 'half_open')`;

/** SELECT_ROUTE_HELD: whether @taskId's route holds it now (a claim refused by the route, not lost). Params: @taskId, @now. */
export const SELECT_ROUTE_HELD = `
SELECT 1 AS held FROM tasks AS t JOIN route_controls AS c ON c.route_key = t.route_key
WHERE t.id = @taskId AND NOT (${routeOpen('c')})`;

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
    spendRouteClaim: db.prepare<{ routeKey: string; taskId: string; now: number }>(SPEND_ROUTE_CLAIM),
    selectRouteHeld: db.prepare<{ taskId: string; now: number }, { held: number }>(SELECT_ROUTE_HELD),
  };
}

export type LeaseStatements = ReturnType<typeof prepareLeaseStatements>;
