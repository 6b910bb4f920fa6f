/**
 * Fleet control and stats: the leases an agent holds, taking one back, an agent's run history, per-route counts
 * and event counts. The stats queries must stay fast with a million tasks: each names the index that serves it.
 */
import { LEASE_RECLAIMED_ERROR } from '../../../domain/storeRules';
import { sqlJson } from '../../sqlLiteral';
import { COLUMN_LENGTH, param, statement, TABLE, WRITE_PREAMBLE } from '../statement';

/**
 * SELECT_LEASES_OF: running tasks whose lease @agentId holds, by id (IX_tasks_running_agent), skipping rows
 * being written. Params: @agentId, @limit. Result: { id, attempt, max_attempts, agent_id } rows.
 */
export const SELECT_LEASES_OF = statement('SELECT_LEASES_OF', {
  idempotent: true,
  params: { agentId: param.nvarchar(COLUMN_LENGTH.agentId), limit: param.int },
  text: `
SELECT TOP (@limit) id, attempt, max_attempts, agent_id
FROM ${TABLE.tasks} WITH (READPAST, READCOMMITTEDLOCK)
WHERE status = 'running' AND agent_id = @agentId
ORDER BY id;`,
});

/**
 * RECLAIM_LEASE: the lease of (@taskId, @attempt) held by @agentId, expired or not, taken back → queued at
 * @notBefore (@requeue = 1, a fresh dispatch) or dead (the last holder kept), as decided, with
 * LEASE_RECLAIMED_ERROR (src/domain/storeRules.ts); appends
 * `lease_reclaimed` (the agent's) then `retry_scheduled` (@outcomeData) or `dead` (agent null). Nothing when
 * the task is not running at that attempt, another agent holds it, or another session is writing the row.
 * Params: @taskId, @attempt, @agentId, @now, @requeue, @notBefore (null when dead), @outcomeData (JSON or null).
 * Result: { applied } (bit).
 */
export const RECLAIM_LEASE = statement('RECLAIM_LEASE', {
  idempotent: false,
  params: {
    taskId: param.varchar(COLUMN_LENGTH.taskId),
    attempt: param.int,
    agentId: param.nvarchar(COLUMN_LENGTH.agentId),
    now: param.time,
    requeue: param.bit,
    notBefore: param.time,
    outcomeData: param.json,
  },
  text: `
${WRITE_PREAMBLE}
DECLARE @changed int;
BEGIN TRANSACTION;
WITH target AS (
  SELECT TOP (1) status, error, agent_id, lease_expires_at, not_before, dispatched_at, finished_at, updated_at
  FROM ${TABLE.tasks} WITH (UPDLOCK, READPAST, ROWLOCK, READCOMMITTEDLOCK)
  WHERE id = @taskId AND status = 'running' AND attempt = @attempt AND agent_id = @agentId
  ORDER BY id
)
UPDATE target
SET status = CASE WHEN @requeue = 1 THEN 'queued' ELSE 'dead' END,
  error = N${sqlJson(LEASE_RECLAIMED_ERROR)},
  agent_id = CASE WHEN @requeue = 1 THEN NULL ELSE agent_id END,
  lease_expires_at = NULL,
  not_before = CASE WHEN @requeue = 1 THEN @notBefore ELSE not_before END,
  dispatched_at = CASE WHEN @requeue = 1 THEN @now ELSE dispatched_at END,
  finished_at = CASE WHEN @requeue = 1 THEN finished_at ELSE @now END,
  updated_at = @now;
SET @changed = @@ROWCOUNT;
IF @changed = 1
BEGIN
  INSERT INTO ${TABLE.taskEvents} (task_id, at, kind, attempt, agent_id, data)
  VALUES (@taskId, @now, 'lease_reclaimed', @attempt, @agentId, NULL);
  INSERT INTO ${TABLE.taskEvents} (task_id, at, kind, attempt, agent_id, data)
  VALUES (@taskId, @now, CASE WHEN @requeue = 1 THEN 'retry_scheduled' ELSE 'dead' END, @attempt, NULL,
    @outcomeData);
END;
COMMIT TRANSACTION;
SELECT CAST(@changed AS bit) AS applied;`,
});

/**
 * SELECT_AGENT_RUNS: an agent's finished attempts (succeeded or failed events) at or after @since, oldest first
 * (IX_task_events_agent_at), with the run time the event recorded (null for events without one).
 * Params: @agentId, @since. Result: { at, kind, run_ms (text or null) } rows.
 */
export const SELECT_AGENT_RUNS = statement('SELECT_AGENT_RUNS', {
  idempotent: true,
  params: { agentId: param.nvarchar(COLUMN_LENGTH.agentId), since: param.time },
  text: `
SELECT at, kind, JSON_VALUE(data, '$.runMs') AS run_ms
FROM ${TABLE.taskEvents}
WHERE agent_id = @agentId AND at >= @since AND kind IN ('succeeded', 'failed')
ORDER BY at, seq;`,
});

/**
 * COUNT_AGENT_RUNS: the finished attempts of each of @agentIds (JSON array) at or after @since, counted: one seek
 * of IX_task_events_agent_at per agent (its filter repeated so the optimizer can match it).
 * Params: @agentIds, @since. Result: { agent_id, succeeded, failed } rows, only for agents with any.
 */
export const COUNT_AGENT_RUNS = statement('COUNT_AGENT_RUNS', {
  idempotent: true,
  params: { agentIds: param.json, since: param.time },
  text: `
SELECT e.agent_id,
  SUM(CASE WHEN e.kind = 'succeeded' THEN 1 ELSE 0 END) AS succeeded,
  SUM(CASE WHEN e.kind = 'failed' THEN 1 ELSE 0 END) AS failed
FROM OPENJSON(@agentIds) WITH (agent_id nvarchar(450) '$') AS a
JOIN ${TABLE.taskEvents} AS e ON e.agent_id = a.agent_id COLLATE Latin1_General_100_BIN2
WHERE e.agent_id IS NOT NULL AND e.at >= @since AND e.kind IN ('succeeded', 'failed')
GROUP BY e.agent_id;`,
});

/**
 * ROUTE_STATS: per-route counts of queued (due / delayed), running and dead tasks. Each arm of `per_status` is
 * one range of IX_tasks_status_route for one status, read in route order (a stream aggregate, no sort of the
 * task rows); terminal rows other than dead are never read. Only the few per-route rows are merged, then
 * joined to routes for type and capabilities. A route with no such task has no row.
 * Params: @now. Result: { type, capabilities (JSON), queued, delayed, running, dead, oldest_queued_at } rows.
 */
export const ROUTE_STATS = statement('ROUTE_STATS', {
  idempotent: true,
  params: { now: param.time },
  text: `
WITH per_status AS (
  SELECT route_id,
    SUM(CASE WHEN not_before <= @now THEN 1 ELSE 0 END) AS queued,
    SUM(CASE WHEN not_before > @now THEN 1 ELSE 0 END) AS delayed,
    0 AS running,
    0 AS dead,
    MIN(CASE WHEN not_before <= @now THEN not_before END) AS oldest_queued_at
  FROM ${TABLE.tasks} WHERE status = 'queued' GROUP BY route_id
  UNION ALL
  SELECT route_id, 0, 0, COUNT(*), 0, CAST(NULL AS datetime2(3)) FROM ${TABLE.tasks} WHERE status = 'running' GROUP BY route_id
  UNION ALL
  SELECT route_id, 0, 0, 0, COUNT(*), CAST(NULL AS datetime2(3)) FROM ${TABLE.tasks} WHERE status = 'dead' GROUP BY route_id
),
per_route AS (
  SELECT route_id, SUM(queued) AS queued, SUM(delayed) AS delayed, SUM(running) AS running, SUM(dead) AS dead,
    MIN(oldest_queued_at) AS oldest_queued_at
  FROM per_status
  GROUP BY route_id
)
SELECT r.type, r.capabilities, p.queued, p.delayed, p.running, p.dead, p.oldest_queued_at
FROM per_route AS p
JOIN ${TABLE.routes} AS r ON r.id = p.route_id
ORDER BY r.route_key;`,
});

/**
 * COUNT_TASK_EVENTS: how many events of each of @kinds happened at or after @since: one index-only range of
 * IX_task_events_kind_at per kind. Every requested kind has a row (0 when none happened).
 * Params: @kinds (JSON array of distinct kinds), @since. Result: { kind, n } rows.
 */
export const COUNT_TASK_EVENTS = statement('COUNT_TASK_EVENTS', {
  idempotent: true,
  params: { kinds: param.json, since: param.time },
  text: `
SELECT k.kind, c.n
FROM OPENJSON(@kinds) WITH (kind varchar(32) '$') AS k
CROSS APPLY (
  SELECT COUNT(*) AS n
  FROM ${TABLE.taskEvents} AS e
  WHERE e.kind = k.kind COLLATE Latin1_General_100_BIN2 AND e.at >= @since
) AS c;`,
});
