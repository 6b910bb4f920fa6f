/**
 * The supervisor's side of a task's life: cancellation, the lease reaper, deadline expiry and re-dispatch.
 * Twin of `mssql/statements/background.ts`; the writes that go with them (events) are in `../background.ts`.
 * Parameters are named (`@name`); times are epoch milliseconds.
 */
import type { Database } from 'better-sqlite3';
import { LEASE_EXPIRED_ERROR } from '../../../domain/storeRules';
import { sqlJson } from '../../sqlLiteral';
import type { DispatchDbRow, LeaseDbRow } from '../rows';

/** CANCEL_QUEUED (part of REQUEST_CANCEL on mssql): queued → cancelled. Params: @taskId, @attempt, @now. Changes: 0|1. */
export const CANCEL_QUEUED = `
UPDATE tasks SET status = 'cancelled', finished_at = @now, updated_at = @now
WHERE id = @taskId AND status = 'queued' AND attempt = @attempt`;

/**
 * REQUEST_CANCEL_RUNNING (part of REQUEST_CANCEL on mssql): flags a running attempt for cooperative
 * cancellation. Params: @taskId, @attempt, @now. Changes: 0|1.
 */
export const REQUEST_CANCEL_RUNNING = `
UPDATE tasks SET cancel_requested = 1, updated_at = @now
WHERE id = @taskId AND status = 'running' AND attempt = @attempt AND cancel_requested = 0`;

/**
 * SELECT_EXPIRED_LEASES: running tasks whose lease expired before @now, oldest expiry first. Params: @now,
 * @limit. Named index: the planner would otherwise take tasks_status_id's equality on status and sort every
 * running task.
 */
export const SELECT_EXPIRED_LEASES = `
SELECT id, attempt, max_attempts, agent_id FROM tasks INDEXED BY tasks_running_lease
WHERE status = 'running' AND lease_expires_at < @now ORDER BY lease_expires_at LIMIT @limit`;

/** The lease of (@taskId, @attempt) expired before @now (whoever held it). */
const LEASE_EXPIRED = `id = @taskId AND status = 'running' AND attempt = @attempt AND lease_expires_at < @now`;

/**
 * REQUEUE_EXPIRED_LEASE: expired lease → queued at @notBefore, with LEASE_EXPIRED_ERROR (src/domain/storeRules.ts).
 * Params: @taskId, @attempt, @now, @notBefore. Changes: 0|1.
 */
export const REQUEUE_EXPIRED_LEASE = `
UPDATE tasks SET status = 'queued', error = ${sqlJson(LEASE_EXPIRED_ERROR)}, agent_id = NULL, lease_expires_at = NULL,
  not_before = @notBefore, dispatched_at = @now, updated_at = @now
WHERE ${LEASE_EXPIRED}`;

/**
 * KILL_EXPIRED_LEASE (REQUEUE_EXPIRED_LEASE with @requeue = 0 on mssql): expired lease → dead (attempts spent),
 * with LEASE_EXPIRED_ERROR. Params: @taskId, @attempt, @now. Changes: 0|1.
 */
export const KILL_EXPIRED_LEASE = `
UPDATE tasks SET status = 'dead', error = ${sqlJson(LEASE_EXPIRED_ERROR)}, lease_expires_at = NULL, finished_at = @now,
  updated_at = @now
WHERE ${LEASE_EXPIRED}`;

/** SELECT_OVERDUE: queued tasks whose deadline is at or before @now, earliest first (named index, as above). Params: @now, @limit. */
export const SELECT_OVERDUE = `
SELECT id, attempt FROM tasks INDEXED BY tasks_queued_deadline
WHERE status = 'queued' AND deadline <= @now ORDER BY deadline LIMIT @limit`;

/** EXPIRE_TASK: queued (@attempt) past its deadline → expired. Params: @taskId, @attempt, @now. Changes: 0|1. */
export const EXPIRE_TASK = `
UPDATE tasks SET status = 'expired', finished_at = @now, updated_at = @now
WHERE id = @taskId AND status = 'queued' AND attempt = @attempt AND deadline <= @now`;

/** EXPIRE_UNROUTABLE: queued (@attempt) and due at or before @dueBefore → expired. Params: @taskId, @attempt, @dueBefore, @now. */
export const EXPIRE_UNROUTABLE = `
UPDATE tasks SET status = 'expired', finished_at = @now, updated_at = @now
WHERE id = @taskId AND status = 'queued' AND attempt = @attempt AND not_before <= @dueBefore`;

const DISPATCH_COLUMNS = `id, attempt, type, required_capabilities, priority, not_before, trace_parent`;

/**
 * Dispatch scans name the partial index on queued tasks: it holds dispatched_at and not_before, so a sweep
 * skips tasks that are not due without reading their rows (the planner would otherwise pick (status, id)).
 */
const QUEUED_INDEX = `tasks INDEXED BY tasks_queued_dispatch`;

/** SELECT_QUEUED_FOR_DISPATCH: queued tasks by id after @afterId ('' for the start). Params: @afterId, @limit. */
export const SELECT_QUEUED_FOR_DISPATCH = `
SELECT ${DISPATCH_COLUMNS} FROM ${QUEUED_INDEX} WHERE status = 'queued' AND id > @afterId ORDER BY id LIMIT @limit`;

/** SELECT_DUE_FOR_DISPATCH: as SELECT_QUEUED_FOR_DISPATCH, only those last dispatched and due at or before @dueBefore. */
export const SELECT_DUE_FOR_DISPATCH = `
SELECT ${DISPATCH_COLUMNS} FROM ${QUEUED_INDEX}
WHERE status = 'queued' AND id > @afterId AND dispatched_at <= @dueBefore AND not_before <= @dueBefore
ORDER BY id LIMIT @limit`;

/**
 * SELECT_QUEUED_ON_ROUTE: queued tasks of one route due at or before @dueBefore and last sent at or before
 * @sentBefore, by (not_before, id) after the keyset (@afterNotBefore, @afterId). Params: @routeKey, @dueBefore,
 * @sentBefore, @afterNotBefore, @afterId, @limit. Named index: its (status, route_key) prefix and not_before range
 * reach the route's due tasks already in order; the plan must not rest on the planner's choice, since
 * tasks_queued_dispatch also holds every queued task's times, but in id order (a walk over every queued task of
 * every route). Rows sharing a not_before are sorted by id among themselves (the index ends in the rowid, not the
 * id); `not_before >= @afterNotBefore` is what bounds the seek, the OR only trims its first not_before.
 */
export const SELECT_QUEUED_ON_ROUTE = `
SELECT ${DISPATCH_COLUMNS} FROM tasks INDEXED BY tasks_status_route_not_before
WHERE status = 'queued' AND route_key = @routeKey AND not_before >= @afterNotBefore AND not_before <= @dueBefore
  AND (not_before > @afterNotBefore OR id > @afterId) AND dispatched_at <= @sentBefore
ORDER BY not_before, id LIMIT @limit`;

/**
 * SELECT_CLAIMABLE: the queued tasks of one route and priority due at or before @dueBefore, oldest first: one seek
 * of tasks_queued_claim. The adapter runs it per route and priority of a claim and merges the rows (critical
 * first, then not_before, then id), so a claim never sorts a route's whole backlog. Params: @routeKey,
 * @priority, @dueBefore, @limit. Result: dispatch rows.
 */
export const SELECT_CLAIMABLE = `
SELECT ${DISPATCH_COLUMNS} FROM tasks INDEXED BY tasks_queued_claim
WHERE status = 'queued' AND route_key = @routeKey AND priority = @priority AND not_before <= @dueBefore
ORDER BY not_before, id LIMIT @limit`;

/** MARK_DISPATCHED: stamps queued tasks as just sent. Params: @ids (JSON array), @now. */
export const MARK_DISPATCHED = `
UPDATE tasks SET dispatched_at = @now WHERE status = 'queued' AND id IN (SELECT value FROM json_each(@ids))`;

interface TaskKey {
  taskId: string;
  attempt: number;
  now: number;
}

interface RouteQueueParams {
  routeKey: string;
  dueBefore: number;
  sentBefore: number;
  afterNotBefore: number;
  afterId: string;
  limit: number;
}

export function prepareBackgroundStatements(db: Database) {
  return {
    cancelQueued: db.prepare<TaskKey>(CANCEL_QUEUED),
    requestCancelRunning: db.prepare<TaskKey>(REQUEST_CANCEL_RUNNING),
    selectExpiredLeases: db.prepare<{ now: number; limit: number }, LeaseDbRow>(SELECT_EXPIRED_LEASES),
    requeueExpiredLease: db.prepare<TaskKey & { notBefore: number }>(REQUEUE_EXPIRED_LEASE),
    killExpiredLease: db.prepare<TaskKey>(KILL_EXPIRED_LEASE),
    selectOverdue: db.prepare<{ now: number; limit: number }, { id: string; attempt: number }>(SELECT_OVERDUE),
    expireTask: db.prepare<TaskKey>(EXPIRE_TASK),
    expireUnroutable: db.prepare<TaskKey & { dueBefore: number }>(EXPIRE_UNROUTABLE),
    selectQueued: db.prepare<{ afterId: string; limit: number }, DispatchDbRow>(SELECT_QUEUED_FOR_DISPATCH),
    selectDue: db.prepare<{ afterId: string; dueBefore: number; limit: number }, DispatchDbRow>(
      SELECT_DUE_FOR_DISPATCH,
    ),
    selectOnRoute: db.prepare<RouteQueueParams, DispatchDbRow>(SELECT_QUEUED_ON_ROUTE),
    markDispatched: db.prepare<{ ids: string; now: number }>(MARK_DISPATCHED),
    selectClaimable: db.prepare<
      { routeKey: string; priority: string; dueBefore: number; limit: number },
      DispatchDbRow
    >(SELECT_CLAIMABLE),
  };
}

export type BackgroundStatements = ReturnType<typeof prepareBackgroundStatements>;
