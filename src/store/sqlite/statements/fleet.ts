/**
 * Fleet control and stats: the leases an agent holds, taking one back, an agent's run history, per-route counts
 * and event counts. Twin of `mssql/statements/fleet.ts`; the reclaim's events are written by `../fleet.ts`.
 * Parameters are named (`@name`); times are epoch milliseconds.
 *
 * The stats queries must stay fast with a million tasks: each names (in a comment) the index of migration 2
 * that serves it, and `test/contract/sqlite.test.ts` checks their query plans.
 */
import type { Database } from 'better-sqlite3';
import { LEASE_RECLAIMED_ERROR } from '../../../domain/storeRules';
import type { LeaseKey } from '../../shared';
import { sqlJson } from '../../sqlLiteral';
import type { AgentRunRow, LeaseDbRow, RouteStatsRow } from '../rows';
import { LEASE_HELD } from './lease';

/**
 * SELECT_LEASES_OF: running tasks whose lease @agentId holds, by id (partial index tasks_running_agent).
 * Params: @agentId, @limit. Result: { id, attempt, max_attempts, agent_id } rows.
 */
export const SELECT_LEASES_OF = `
SELECT id, attempt, max_attempts, agent_id FROM tasks
WHERE status = 'running' AND agent_id = @agentId ORDER BY id LIMIT @limit`;

/**
 * RECLAIM_LEASE_REQUEUE (RECLAIM_LEASE with @requeue = 1 on mssql): a lease held by @agentId, taken back before it expired → queued at @notBefore, dispatchable as a fresh send.
 * Params: @taskId, @attempt, @agentId, @now, @notBefore. Changes: 0|1 (0 when not running at that attempt
 * or held by another agent).
 */
export const RECLAIM_LEASE_REQUEUE = `
UPDATE tasks SET status = 'queued', error = ${sqlJson(LEASE_RECLAIMED_ERROR)}, agent_id = NULL, lease_expires_at = NULL,
  not_before = @notBefore, dispatched_at = @now, updated_at = @now
WHERE ${LEASE_HELD}`;

/**
 * RECLAIM_LEASE_KILL (RECLAIM_LEASE with @requeue = 0 on mssql): a lease held by @agentId, taken back with the attempts spent → dead. agent_id is kept (the last holder), as
 * when an expired lease or a failure kills a task. Params: @taskId, @attempt, @agentId, @now. Changes: 0|1.
 */
export const RECLAIM_LEASE_KILL = `
UPDATE tasks SET status = 'dead', error = ${sqlJson(LEASE_RECLAIMED_ERROR)}, lease_expires_at = NULL, finished_at = @now,
  updated_at = @now
WHERE ${LEASE_HELD}`;

/**
 * SELECT_AGENT_RUNS: an agent's finished attempts at or after @since, oldest first (index task_events_agent_runs), with the run time
 * the finishing event recorded (null for events written before runMs existed).
 * Params: @agentId, @since. Result: { at, kind, run_ms } rows.
 */
export const SELECT_AGENT_RUNS = `
SELECT at, kind, json_extract(data, '$.runMs') AS run_ms FROM task_events
WHERE agent_id = @agentId AND at >= @since AND kind IN ('succeeded', 'failed')
ORDER BY at, seq`;

/**
 * COUNT_AGENT_RUNS: the finished attempts of each of @agentIds (JSON array) at or after @since, counted: one range
 * of task_events_agent_runs per agent. Result: { agent_id, succeeded, failed } rows, only for agents with any.
 */
export const COUNT_AGENT_RUNS = `
SELECT agent_id, sum(kind = 'succeeded') AS succeeded, sum(kind = 'failed') AS failed FROM task_events
WHERE agent_id IN (SELECT value FROM json_each(@agentIds)) AND at >= @since AND kind IN ('succeeded', 'failed')
GROUP BY agent_id`;

/**
 * ROUTE_STATS: per-route counts of the queued (due / delayed), running and dead tasks, by route key. Each arm of `per_status`
 * is an index-only scan of tasks_status_route_not_before for one status, whose rows come in route_key order, so it
 * groups as it streams (one sort of every queued row, as a single `status IN (…) GROUP BY` needs, measured 2.6
 * times slower over 500,000 rows); only the few per-route rows are sorted to merge. Terminal rows other than dead
 * are never read. The routes table (one row per route) supplies type and capabilities. A route with no such task
 * has no row, so routes with nothing to report are left out by construction.
 * Params: @now. Result: { type, capabilities (JSON), queued, delayed, running, dead, oldest_queued_at } rows.
 */
export const ROUTE_STATS = `
WITH per_status AS (
  SELECT route_key, sum(not_before <= @now) AS queued, sum(not_before > @now) AS delayed, 0 AS running, 0 AS dead,
    min(CASE WHEN not_before <= @now THEN not_before END) AS oldest_queued_at
  FROM tasks WHERE status = 'queued' GROUP BY route_key
  UNION ALL
  SELECT route_key, 0, 0, count(*), 0, NULL FROM tasks WHERE status = 'running' GROUP BY route_key
  UNION ALL
  SELECT route_key, 0, 0, 0, count(*), NULL FROM tasks WHERE status = 'dead' GROUP BY route_key
)
SELECT r.type, r.capabilities, sum(s.queued) AS queued, sum(s.delayed) AS delayed, sum(s.running) AS running,
  sum(s.dead) AS dead, min(s.oldest_queued_at) AS oldest_queued_at
FROM per_status AS s
JOIN routes AS r ON r.key = s.route_key
GROUP BY s.route_key
ORDER BY s.route_key`;

/**
 * COUNT_TASK_EVENTS: how many events of each of @kinds happened at or after @since: an index-only range of
 * task_events_counted_kind_at per kind. That index leaves `started` out (the condition here lets the planner
 * use it), so `started` always counts 0. Params: @kinds (JSON array), @since. Result: { kind, n } rows, only
 * for kinds that occurred.
 */
export const COUNT_TASK_EVENTS = `
SELECT kind, count(*) AS n FROM task_events
WHERE kind IN (SELECT value FROM json_each(@kinds)) AND kind <> 'started' AND at >= @since
GROUP BY kind`;

export function prepareFleetStatements(db: Database) {
  return {
    selectLeasesOf: db.prepare<{ agentId: string; limit: number }, LeaseDbRow>(SELECT_LEASES_OF),
    reclaimLeaseRequeue: db.prepare<LeaseKey & { notBefore: number }>(RECLAIM_LEASE_REQUEUE),
    reclaimLeaseKill: db.prepare<LeaseKey>(RECLAIM_LEASE_KILL),
    selectAgentRuns: db.prepare<{ agentId: string; since: number }, AgentRunRow>(SELECT_AGENT_RUNS),
    countAgentRuns: db.prepare<
      { agentIds: string; since: number },
      { agent_id: string; succeeded: number; failed: number }
    >(COUNT_AGENT_RUNS),
    routeStats: db.prepare<{ now: number }, RouteStatsRow>(ROUTE_STATS),
    countTaskEvents: db.prepare<{ kinds: string; since: number }, { kind: string; n: number }>(COUNT_TASK_EVENTS),
  };
}

export type FleetStatements = ReturnType<typeof prepareFleetStatements>;
