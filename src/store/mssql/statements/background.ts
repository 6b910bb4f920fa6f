/**
 * The supervisor's side of a task's life: cancellation, the lease reaper, deadline expiry and re-dispatch.
 *
 * Sweeps run in every supervisor at once. Their scans read WITH (READPAST, READCOMMITTEDLOCK): a row another
 * session is writing (a claim, a renewal, a submission not yet committed) is skipped rather than waited for,
 * and the next pass sees it. READCOMMITTEDLOCK is what makes READPAST legal where READ_COMMITTED_SNAPSHOT is on
 * (Azure SQL's default). The writes that follow a scan lock their row through a CTE with UPDLOCK, READPAST,
 * ROWLOCK, READCOMMITTEDLOCK and re-check its condition, so two supervisors never both apply one.
 */
import { LEASE_EXPIRED_ERROR, UNROUTABLE_EXPIRY } from '../../../domain/storeRules';
import { sqlJson } from '../../sqlLiteral';
import { COLUMN_LENGTH, param, statement, TABLE, taskColumns, WRITE_PREAMBLE } from '../statement';

/**
 * REQUEST_CANCEL: queued → cancelled at once (appends `cancelled`); running → cancel_requested, with one
 * `cancel_requested` event however often asked; terminal or unknown: unchanged.
 * Params: @taskId, @now. Result sets: [0] { outcome } ('cancelled' | 'requested' | 'already_terminal' |
 * 'not_found'); [1] the task as it stands after the change (none when unknown).
 */
export const REQUEST_CANCEL = statement('REQUEST_CANCEL', {
  idempotent: false,
  params: { taskId: param.varchar(COLUMN_LENGTH.taskId), now: param.time },
  text: `
${WRITE_PREAMBLE}
DECLARE @status varchar(16), @current int, @holder nvarchar(450), @outcome varchar(20);
BEGIN TRANSACTION;
SELECT @status = status, @current = attempt, @holder = agent_id
FROM ${TABLE.tasks} WITH (UPDLOCK, ROWLOCK)
WHERE id = @taskId;
IF @status IS NULL
BEGIN
  SET @outcome = 'not_found';
END
ELSE IF @status = 'queued'
BEGIN
  UPDATE ${TABLE.tasks} SET status = 'cancelled', finished_at = @now, updated_at = @now
  WHERE id = @taskId AND status = 'queued' AND attempt = @current;
  INSERT INTO ${TABLE.taskEvents} (task_id, at, kind, attempt, agent_id, data)
  VALUES (@taskId, @now, 'cancelled', @current, NULL, NULL);
  SET @outcome = 'cancelled';
END
ELSE IF @status = 'running'
BEGIN
  UPDATE ${TABLE.tasks} SET cancel_requested = 1, updated_at = @now
  WHERE id = @taskId AND status = 'running' AND attempt = @current AND cancel_requested = 0;
  IF @@ROWCOUNT = 1
  BEGIN
    INSERT INTO ${TABLE.taskEvents} (task_id, at, kind, attempt, agent_id, data)
    VALUES (@taskId, @now, 'cancel_requested', @current, @holder, NULL);
  END;
  SET @outcome = 'requested';
END
ELSE
BEGIN
  SET @outcome = 'already_terminal';
END;
SELECT @outcome AS outcome;
SELECT ${taskColumns()} FROM ${TABLE.tasks} WHERE id = @taskId;
COMMIT TRANSACTION;`,
});

/**
 * SELECT_EXPIRED_LEASES: running tasks whose lease expired before @now, oldest expiry first
 * (IX_tasks_running_lease). Params: @now, @limit. Result: { id, attempt, max_attempts, agent_id } rows.
 */
export const SELECT_EXPIRED_LEASES = statement('SELECT_EXPIRED_LEASES', {
  idempotent: true,
  params: { now: param.time, limit: param.int },
  text: `
SELECT TOP (@limit) id, attempt, max_attempts, agent_id
FROM ${TABLE.tasks} WITH (READPAST, READCOMMITTEDLOCK)
WHERE status = 'running' AND lease_expires_at < @now
ORDER BY lease_expires_at;`,
});

/**
 * REQUEUE_EXPIRED_LEASE: running (@attempt) with its lease expired before @now → queued at @notBefore
 * (@requeue = 1) or dead, as decided, with LEASE_EXPIRED_ERROR (src/domain/storeRules.ts); appends `lease_expired` (the last holder's, with the expiry it missed)
 * then `retry_scheduled` (@outcomeData) or `dead`, both at @attempt. Skips (false) a row another session holds.
 * Params: @taskId, @attempt, @now, @requeue, @notBefore (null when dead), @outcomeData (JSON or null).
 * Result: { applied } (bit).
 */
export const REQUEUE_EXPIRED_LEASE = statement('REQUEUE_EXPIRED_LEASE', {
  idempotent: false,
  params: {
    taskId: param.varchar(COLUMN_LENGTH.taskId),
    attempt: param.int,
    now: param.time,
    requeue: param.bit,
    notBefore: param.time,
    outcomeData: param.json,
  },
  text: `
${WRITE_PREAMBLE}
DECLARE @lost TABLE (agent_id nvarchar(450) NULL, lease_expires_at datetime2(3) NULL);
BEGIN TRANSACTION;
WITH target AS (
  SELECT TOP (1) status, error, agent_id, lease_expires_at, not_before, dispatched_at, finished_at, updated_at
  FROM ${TABLE.tasks} WITH (UPDLOCK, READPAST, ROWLOCK, READCOMMITTEDLOCK)
  WHERE id = @taskId AND status = 'running' AND attempt = @attempt AND lease_expires_at < @now
  ORDER BY lease_expires_at
)
UPDATE target
SET status = CASE WHEN @requeue = 1 THEN 'queued' ELSE 'dead' END,
  error = N${sqlJson(LEASE_EXPIRED_ERROR)},
  agent_id = CASE WHEN @requeue = 1 THEN NULL ELSE agent_id END,
  lease_expires_at = NULL,
  not_before = CASE WHEN @requeue = 1 THEN @notBefore ELSE not_before END,
  dispatched_at = CASE WHEN @requeue = 1 THEN @now ELSE dispatched_at END,
  finished_at = CASE WHEN @requeue = 1 THEN finished_at ELSE @now END,
  updated_at = @now
OUTPUT deleted.agent_id, deleted.lease_expires_at INTO @lost (agent_id, lease_expires_at);
IF EXISTS (SELECT 1 FROM @lost)
BEGIN
  INSERT INTO ${TABLE.taskEvents} (task_id, at, kind, attempt, agent_id, data)
  SELECT @taskId, @now, 'lease_expired', @attempt, agent_id,
    CONCAT(N'{"leaseExpiresAt":',
      DATEDIFF_BIG(millisecond, CAST('1970-01-01T00:00:00' AS datetime2(3)), lease_expires_at), N'}')
  FROM @lost;
  INSERT INTO ${TABLE.taskEvents} (task_id, at, kind, attempt, agent_id, data)
  VALUES (@taskId, @now, CASE WHEN @requeue = 1 THEN 'retry_scheduled' ELSE 'dead' END, @attempt, NULL,
    @outcomeData);
END;
COMMIT TRANSACTION;
SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM @lost) THEN 1 ELSE 0 END AS bit) AS applied;`,
});

/**
 * SELECT_OVERDUE: queued tasks whose deadline is at or before @now, earliest first (IX_tasks_queued_deadline).
 * Params: @now, @limit. Result: { id, attempt } rows.
 */
export const SELECT_OVERDUE = statement('SELECT_OVERDUE', {
  idempotent: true,
  params: { now: param.time, limit: param.int },
  text: `
SELECT TOP (@limit) id, attempt
FROM ${TABLE.tasks} WITH (READPAST, READCOMMITTEDLOCK)
WHERE status = 'queued' AND deadline IS NOT NULL AND deadline <= @now
ORDER BY deadline;`,
});

/**
 * EXPIRE_TASK: queued (@attempt) with its deadline at or before @now → expired; appends `expired`.
 * Params: @taskId, @attempt, @now. Result: { changed } (0 or 1).
 */
export const EXPIRE_TASK = statement('EXPIRE_TASK', {
  idempotent: false,
  params: { taskId: param.varchar(COLUMN_LENGTH.taskId), attempt: param.int, now: param.time },
  text: `
${WRITE_PREAMBLE}
DECLARE @changed int;
BEGIN TRANSACTION;
WITH target AS (
  SELECT TOP (1) status, finished_at, updated_at
  FROM ${TABLE.tasks} WITH (UPDLOCK, READPAST, ROWLOCK, READCOMMITTEDLOCK)
  WHERE id = @taskId AND status = 'queued' AND attempt = @attempt AND deadline <= @now
  ORDER BY deadline
)
UPDATE target SET status = 'expired', finished_at = @now, updated_at = @now;
SET @changed = @@ROWCOUNT;
IF @changed = 1
BEGIN
  INSERT INTO ${TABLE.taskEvents} (task_id, at, kind, attempt, agent_id, data)
  VALUES (@taskId, @now, 'expired', @attempt, NULL, NULL);
END;
COMMIT TRANSACTION;
SELECT @changed AS changed;`,
});

/**
 * EXPIRE_UNROUTABLE: queued (@attempt) and due at or before @dueBefore → expired; appends `expired` with
 * UNROUTABLE_EXPIRY (src/domain/storeRules.ts) as its data. A point update by primary key.
 * Params: @taskId, @attempt, @dueBefore, @now. Result: { changed } (0 or 1).
 */
export const EXPIRE_UNROUTABLE = statement('EXPIRE_UNROUTABLE', {
  idempotent: false,
  params: { taskId: param.varchar(COLUMN_LENGTH.taskId), attempt: param.int, dueBefore: param.time, now: param.time },
  text: `
${WRITE_PREAMBLE}
DECLARE @changed int;
BEGIN TRANSACTION;
UPDATE ${TABLE.tasks} WITH (ROWLOCK)
SET status = 'expired', finished_at = @now, updated_at = @now
WHERE id = @taskId AND status = 'queued' AND attempt = @attempt AND not_before <= @dueBefore;
SET @changed = @@ROWCOUNT;
IF @changed = 1
BEGIN
  INSERT INTO ${TABLE.taskEvents} (task_id, at, kind, attempt, agent_id, data)
  VALUES (@taskId, @now, 'expired', @attempt, NULL, N${sqlJson(UNROUTABLE_EXPIRY)});
END;
COMMIT TRANSACTION;
SELECT @changed AS changed;`,
});

const DISPATCH_COLUMNS = 'id, attempt, type, required_capabilities, priority, not_before, trace_parent';

/**
 * SELECT_QUEUED_FOR_DISPATCH: queued tasks by id after @afterId ('' for the start), through the filtered index
 * IX_tasks_queued_dispatch. Params: @afterId, @limit. Result: dispatch rows.
 */
export const SELECT_QUEUED_FOR_DISPATCH = statement('SELECT_QUEUED_FOR_DISPATCH', {
  idempotent: true,
  params: { afterId: param.varchar(COLUMN_LENGTH.taskId), limit: param.int },
  text: `
SELECT TOP (@limit) ${DISPATCH_COLUMNS}
FROM ${TABLE.tasks} WITH (READPAST, READCOMMITTEDLOCK)
WHERE status = 'queued' AND id > @afterId
ORDER BY id;`,
});

/**
 * SELECT_DUE_FOR_DISPATCH: as SELECT_QUEUED_FOR_DISPATCH, only the tasks last dispatched and due at or before
 * @dueBefore (both times are in the filtered index, so tasks not yet due are skipped without a row read).
 * Params: @afterId, @dueBefore, @limit. Result: dispatch rows.
 */
export const SELECT_DUE_FOR_DISPATCH = statement('SELECT_DUE_FOR_DISPATCH', {
  idempotent: true,
  params: { afterId: param.varchar(COLUMN_LENGTH.taskId), dueBefore: param.time, limit: param.int },
  text: `
SELECT TOP (@limit) ${DISPATCH_COLUMNS}
FROM ${TABLE.tasks} WITH (READPAST, READCOMMITTEDLOCK)
WHERE status = 'queued' AND id > @afterId AND dispatched_at <= @dueBefore AND not_before <= @dueBefore
ORDER BY id;`,
});

/**
 * SELECT_QUEUED_ON_ROUTE: queued tasks of the route @routeKey due at or before @dueBefore and last sent at or
 * before @sentBefore, by (not_before, id) after the keyset (@afterNotBefore, @afterId).
 *
 * The route's id comes first, by its hash (UX_routes_route_hash): @routeKey is varchar, as routes.route_key is, so
 * HASHBYTES reads the same bytes as the persisted route_hash. With the id in a variable the task query is one
 * seek on IX_tasks_status_route (status, route_id, then a not_before range), whose rows come in (not_before, id)
 * order since the clustered key ends every nonclustered key: TOP stops early, with no sort. dispatched_at is not
 * in the index; its check rides the lookup that fetches the columns anyway. `not_before >= @afterNotBefore`
 * bounds the seek, the OR only trims its first not_before. An unknown route leaves @routeId NULL: no rows.
 * Params: @routeKey, @dueBefore, @sentBefore, @afterNotBefore, @afterId, @limit. Result: dispatch rows.
 */
export const SELECT_QUEUED_ON_ROUTE = statement('SELECT_QUEUED_ON_ROUTE', {
  idempotent: true,
  params: {
    routeKey: param.varchar(COLUMN_LENGTH.routeKey),
    dueBefore: param.time,
    sentBefore: param.time,
    afterNotBefore: param.time,
    afterId: param.varchar(COLUMN_LENGTH.taskId),
    limit: param.int,
  },
  text: `
DECLARE @routeId int;
SELECT @routeId = id
FROM ${TABLE.routes} WITH (READPAST, READCOMMITTEDLOCK)
WHERE route_hash = CAST(HASHBYTES('SHA2_256', @routeKey) AS binary(32));
SELECT TOP (@limit) ${DISPATCH_COLUMNS}
FROM ${TABLE.tasks} WITH (READPAST, READCOMMITTEDLOCK)
WHERE status = 'queued' AND route_id = @routeId
  AND not_before >= @afterNotBefore AND not_before <= @dueBefore
  AND (not_before > @afterNotBefore OR id > @afterId) AND dispatched_at <= @sentBefore
ORDER BY not_before, id;`,
});

/**
 * SELECT_CLAIMABLE: what the supervisor may claim for an HTTP agent: the queued tasks of the routes in @routes
 * (JSON `[{ "key": route key, "dueBefore": epoch ms }]`) due at or before their route's time, critical first,
 * then oldest not_before, then id; at most @limit.
 *
 * One seek of IX_tasks_queued_claim (route_id, priority, not_before, id; queued only) per route and priority,
 * each stopped by TOP, so a claim never sorts a route's whole backlog; only the at most 4 × routes × @limit rows
 * found are sorted. The routes' ids come by their hashes (UX_routes_route_hash); an unknown route matches nothing.
 * READPAST skips rows another claimer holds locked (a claim in flight): the caller claims each row it gets
 * with CLAIM_TASK, which is conditional, so a row read just before another claim commits is only a lost race.
 * The epoch milliseconds become datetime2 in UTC, as every time the adapter binds.
 * Params: @routes (JSON), @limit. Result: dispatch rows.
 */
export const SELECT_CLAIMABLE = statement('SELECT_CLAIMABLE', {
  idempotent: true,
  params: { routes: param.json, limit: param.int },
  text: `
SELECT TOP (@limit) c.id, c.attempt, c.type, c.required_capabilities, c.priority, c.not_before, c.trace_parent
FROM OPENJSON(@routes) WITH (route_key varchar(2200) '$.key', due_ms bigint '$.dueBefore') AS j
JOIN ${TABLE.routes} AS r WITH (READCOMMITTEDLOCK)
  ON r.route_hash = CAST(HASHBYTES('SHA2_256', j.route_key) AS binary(32))
CROSS JOIN (VALUES ('critical', 1), ('high', 2), ('normal', 3), ('low', 4)) AS p (priority, priority_rank)
CROSS APPLY (
  SELECT TOP (@limit) t.id, t.attempt, t.type, t.required_capabilities, t.priority, t.not_before, t.trace_parent
  FROM ${TABLE.tasks} AS t WITH (READPAST, READCOMMITTEDLOCK)
  WHERE t.status = 'queued' AND t.route_id = r.id AND t.priority = p.priority
    AND t.not_before <= DATEADD(millisecond, j.due_ms % 86400000, DATEADD(day, j.due_ms / 86400000, CAST('1970-01-01' AS datetime2(3))))
  ORDER BY t.not_before, t.id
) AS c
ORDER BY p.priority_rank, c.not_before, c.id;`,
});

/**
 * MARK_DISPATCHED: stamps the queued tasks among @ids as just sent. Idempotent. Unknown ids and tasks that
 * are not queued are ignored. Params: @ids (JSON array of task ids), @now. Result: none.
 */
export const MARK_DISPATCHED = statement('MARK_DISPATCHED', {
  idempotent: true,
  params: { ids: param.json, now: param.time },
  text: `
UPDATE t
SET dispatched_at = @now
FROM ${TABLE.tasks} AS t WITH (ROWLOCK)
JOIN OPENJSON(@ids) WITH (id varchar(64) '$') AS j ON t.id = j.id COLLATE Latin1_General_100_BIN2
WHERE t.status = 'queued';`,
});
