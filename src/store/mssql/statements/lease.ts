/**
 * The lease-bound life of an attempt: claim, renew, complete, fail, finish a cancel, release. Every write that
 * belongs to a lease matches LEASE_HELD (running, the caller's attempt, the caller as holder), so a worker
 * whose attempt was requeued, reclaimed or finished changes nothing. Each is one request and one transaction.
 */
import { CLAIM_REFUSED_STATES } from '../../../domain/agent';
import { RESULT_REJECTED, resultRejectedData, type ReportedOutcome } from '../../../domain/storeRules';
import { sqlJson, sqlString, sqlStringList } from '../../sqlLiteral';
import { COLUMN_LENGTH, param, statement, TABLE, taskColumns, WRITE_PREAMBLE } from '../statement';

/** The fencing condition on alias `t`: the attempt is running and held by @agentId. */
const LEASE_HELD = `t.id = @taskId AND t.status = 'running' AND t.attempt = @attempt AND t.agent_id = @agentId`;

const leaseParams = {
  taskId: param.varchar(COLUMN_LENGTH.taskId),
  attempt: param.int,
  agentId: param.nvarchar(COLUMN_LENGTH.agentId),
  now: param.time,
};

/** The run time of the attempt a write ends (started_at belongs to the current attempt: every claim sets it). */
const RUN_MS = `DATEDIFF_BIG(millisecond, deleted.started_at, @now)`;

/** A bigint as JSON: the number, or null. */
const jsonNumber = (expr: string) => `COALESCE(CAST(${expr} AS nvarchar(20)), N'null')`;

/**
 * Appends RESULT_REJECTED with resultRejectedData(outcome) (src/domain/storeRules.ts) when the write did not
 * apply but the task exists (a zombie, a second completion, a non-holder): the refusal is on the record, in the
 * same transaction.
 */
const rejectedUnlessApplied = (outcome: ReportedOutcome) => `
ELSE IF EXISTS (SELECT 1 FROM ${TABLE.tasks} WHERE id = @taskId)
BEGIN
  INSERT INTO ${TABLE.taskEvents} (task_id, at, kind, attempt, agent_id, data)
  VALUES (@taskId, @now, ${sqlString(RESULT_REJECTED)}, @attempt, @agentId, N${sqlJson(resultRejectedData(outcome))});
END;`;

/** The tokens of `c`'s bucket at @now: refilled at its rate since tokens_at (never backwards), at most its size. */
const TOKENS_NOW = (() => {
  const elapsed = `CASE WHEN c.tokens_at IS NULL OR c.tokens_at >= @now THEN 0
    ELSE DATEDIFF_BIG(millisecond, c.tokens_at, @now) END`;
  const refilled = `(c.tokens + ${elapsed} * c.rate_limit / 1000.0)`;
  const size = `CASE WHEN c.rate_limit > 1 THEN c.rate_limit ELSE 1.0 END`;
  return `CASE WHEN ${refilled} > ${size} THEN ${size} ELSE ${refilled} END`;
})();

/**
 * The claim's gate on a controlled route (@routeId): spends a token of a rate-limited route and takes a half-open
 * route's probe, only while the route lets @taskId start at @now (src/domain/routeControl.ts): not paused, the
 * circuit closed or half-open without another probe, fewer running than the cap, a token in the bucket. It takes
 * the control row's update lock first, so the claims of a controlled route are serialised: the running count
 * (read with locks, not from a snapshot) and the bucket are exact. A route without a control row, or whose row
 * holds nothing (a breaker's closed circuit counting outcomes), takes no lock.
 */
const SPEND_ROUTE_CLAIM = `UPDATE c SET
    tokens = CASE WHEN c.rate_limit IS NULL THEN c.tokens ELSE ${TOKENS_NOW} - 1 END,
    tokens_at = CASE WHEN c.rate_limit IS NULL THEN c.tokens_at
      WHEN c.tokens_at IS NULL OR c.tokens_at < @now THEN @now ELSE c.tokens_at END,
    probe_task_id = CASE WHEN c.circuit = 'half_open' AND c.probe_task_id IS NULL THEN @taskId
      ELSE c.probe_task_id END
  FROM ${TABLE.routeControls} AS c WITH (UPDLOCK, ROWLOCK, READCOMMITTEDLOCK)
  WHERE c.route_id = @routeId AND c.paused = 0 AND c.circuit <> 'open'
    AND (c.circuit = 'closed' OR c.probe_task_id IS NULL OR c.probe_task_id = @taskId)
    AND (c.concurrency_cap IS NULL OR c.concurrency_cap > (SELECT COUNT(*) FROM ${TABLE.tasks} AS r WITH (READCOMMITTEDLOCK)
         WHERE r.status = 'running' AND r.route_id = c.route_id))
    AND (c.rate_limit IS NULL OR ${TOKENS_NOW} >= 1);`;

/**
 * CLAIM_TASK: claims dispatch @attempt of a queued task whose deadline has not passed, unless the registry holds
 * the agent (in one of CLAIM_REFUSED_STATES, src/domain/agent.ts; an unknown agent may claim): running, attempt + 1,
 * the lease until @leaseUntil, started_at, the previous attempt's progress cleared; appends `started` { waitMs: from when it was due (not_before) to now }.
 *
 * Locking: a point update by primary key with UPDLOCK, ROWLOCK, READCOMMITTEDLOCK. It deliberately does not use
 * READPAST: a claim that skipped a row another claimer holds would report the row's last committed state
 * (still queued) as `current`, and the worker would hand back a job it had in fact lost; waiting out the other
 * claim (one short transaction) reports the winner instead. The READPAST scans are the background sweeps.
 *
 * A route control (route_controls) may hold the claim: SPEND_ROUTE_CLAIM runs first for a controlled route, and
 * the claim only when it let the task start; a claim that then did not happen rolls its token back.
 *
 * Params: @taskId, @attempt, @agentId, @now, @leaseUntil.
 * Result sets: [0] the claimed row (OUTPUT inserted.*), or none; [1] when nothing was claimed, the current row
 * with `route_held` (1: its route's control refused it), or none for an unknown task.
 */
export const CLAIM_TASK = statement('CLAIM_TASK', {
  idempotent: false,
  params: { ...leaseParams, leaseUntil: param.time },
  text: `
${WRITE_PREAMBLE}
DECLARE @claimed int = 0, @routeId int, @controlled bit = 0, @routeHeld bit = 0;
BEGIN TRANSACTION;
SELECT @routeId = route_id FROM ${TABLE.tasks} WHERE id = @taskId;
-- Only a route some control holds takes the lock: a breaker's closed circuit only counts outcomes.
IF EXISTS (SELECT 1 FROM ${TABLE.routeControls} WHERE route_id = @routeId
           AND (paused = 1 OR circuit <> 'closed' OR rate_limit IS NOT NULL OR concurrency_cap IS NOT NULL))
BEGIN
  SET @controlled = 1;
  ${SPEND_ROUTE_CLAIM}
  IF @@ROWCOUNT = 0 SET @routeHeld = 1;
END;
UPDATE t
SET status = 'running', attempt = t.attempt + 1, agent_id = @agentId, lease_expires_at = @leaseUntil,
  started_at = @now, error = NULL, progress = NULL, progress_at = NULL, updated_at = @now
OUTPUT ${taskColumns('inserted.')}
FROM ${TABLE.tasks} AS t WITH (UPDLOCK, ROWLOCK, READCOMMITTEDLOCK)
WHERE t.id = @taskId AND t.status = 'queued' AND t.attempt = @attempt AND @routeHeld = 0
  AND (t.deadline IS NULL OR t.deadline > @now)
  AND NOT EXISTS (SELECT 1 FROM ${TABLE.agents} AS a
                  WHERE a.id = @agentId AND a.state IN (${sqlStringList(CLAIM_REFUSED_STATES)}));
SET @claimed = @@ROWCOUNT;
IF @claimed = 1
BEGIN
  INSERT INTO ${TABLE.taskEvents} (task_id, at, kind, attempt, agent_id, data)
  SELECT @taskId, @now, 'started', @attempt + 1, @agentId,
    CONCAT(N'{"waitMs":', ${jsonNumber('DATEDIFF_BIG(millisecond, not_before, @now)')}, N'}')
  FROM ${TABLE.tasks}
  WHERE id = @taskId;
END;
-- A controlled route's token or probe was taken for a claim that did not happen: give it back.
IF @claimed = 0 AND @controlled = 1
  ROLLBACK TRANSACTION;
ELSE
  COMMIT TRANSACTION;
IF @claimed = 0
BEGIN
  SELECT ${taskColumns()}, @routeHeld AS route_held FROM ${TABLE.tasks} WHERE id = @taskId;
END;`,
});

/**
 * RENEW_LEASE: extends a held lease to @leaseUntil. Idempotent (a repeat sets the same expiry).
 * Params: lease key, @leaseUntil. Result: { cancel_requested } when held, none otherwise.
 */
export const RENEW_LEASE = statement('RENEW_LEASE', {
  idempotent: true,
  params: { ...leaseParams, leaseUntil: param.time },
  text: `
UPDATE t
SET lease_expires_at = @leaseUntil, updated_at = @now
OUTPUT inserted.cancel_requested
FROM ${TABLE.tasks} AS t WITH (ROWLOCK)
WHERE ${LEASE_HELD};`,
});

/**
 * COMPLETE_TASK: running → succeeded for the lease holder, with `succeeded` { runMs, totalMs (since the
 * submit) }; otherwise
 * `result_rejected` { outcome: 'succeeded' } when the task exists.
 * Params: lease key, @result (JSON). Result: { applied } (bit).
 */
export const COMPLETE_TASK = statement('COMPLETE_TASK', {
  idempotent: false,
  params: { ...leaseParams, result: param.json },
  text: `
${WRITE_PREAMBLE}
DECLARE @done TABLE (run_ms bigint NULL, total_ms bigint NULL);
BEGIN TRANSACTION;
UPDATE t
SET status = 'succeeded', result = @result, lease_expires_at = NULL, finished_at = @now, updated_at = @now
OUTPUT ${RUN_MS}, DATEDIFF_BIG(millisecond, deleted.created_at, @now) INTO @done (run_ms, total_ms)
FROM ${TABLE.tasks} AS t WITH (ROWLOCK)
WHERE ${LEASE_HELD};
IF EXISTS (SELECT 1 FROM @done)
BEGIN
  INSERT INTO ${TABLE.taskEvents} (task_id, at, kind, attempt, agent_id, data)
  SELECT @taskId, @now, 'succeeded', @attempt, @agentId,
    CONCAT(N'{"runMs":', ${jsonNumber('run_ms')}, N',"totalMs":', ${jsonNumber('total_ms')}, N'}')
  FROM @done;
END
${rejectedUnlessApplied('succeeded')}
COMMIT TRANSACTION;
SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM @done) THEN 1 ELSE 0 END AS bit) AS applied;`,
});

/**
 * FAIL_TASK: running → queued at @notBefore (@requeue = 1) or dead (@requeue = 0), as the domain decided, for
 * the lease holder; appends `failed` (the error with runMs) and then `retry_scheduled` (@outcomeData) or
 * `dead`; otherwise `result_rejected` { outcome: 'failed' } when the task exists. A requeue is a fresh
 * dispatch (dispatched_at = @now); a dead task keeps its last holder.
 * Params: lease key, @error (JSON object), @failedHead (the failed event's JSON up to its runMs value, built by
 * the caller from the error), @requeue, @notBefore (null when dead), @outcomeData (JSON or null).
 * Result: { applied } (bit).
 */
export const FAIL_TASK = statement('FAIL_TASK', {
  idempotent: false,
  params: {
    ...leaseParams,
    error: param.json,
    failedHead: param.json,
    requeue: param.bit,
    notBefore: param.time,
    outcomeData: param.json,
  },
  text: `
${WRITE_PREAMBLE}
DECLARE @done TABLE (run_ms bigint NULL);
BEGIN TRANSACTION;
UPDATE t
SET status = CASE WHEN @requeue = 1 THEN 'queued' ELSE 'dead' END,
  error = @error,
  agent_id = CASE WHEN @requeue = 1 THEN NULL ELSE t.agent_id END,
  lease_expires_at = NULL,
  not_before = CASE WHEN @requeue = 1 THEN @notBefore ELSE t.not_before END,
  dispatched_at = CASE WHEN @requeue = 1 THEN @now ELSE t.dispatched_at END,
  finished_at = CASE WHEN @requeue = 1 THEN t.finished_at ELSE @now END,
  updated_at = @now
OUTPUT ${RUN_MS} INTO @done (run_ms)
FROM ${TABLE.tasks} AS t WITH (ROWLOCK)
WHERE ${LEASE_HELD};
IF EXISTS (SELECT 1 FROM @done)
BEGIN
  INSERT INTO ${TABLE.taskEvents} (task_id, at, kind, attempt, agent_id, data)
  SELECT @taskId, @now, 'failed', @attempt, @agentId,
    CONCAT(@failedHead, ${jsonNumber('run_ms')}, N'}')
  FROM @done;
  INSERT INTO ${TABLE.taskEvents} (task_id, at, kind, attempt, agent_id, data)
  VALUES (@taskId, @now, CASE WHEN @requeue = 1 THEN 'retry_scheduled' ELSE 'dead' END, @attempt, @agentId,
    @outcomeData);
END
${rejectedUnlessApplied('failed')}
COMMIT TRANSACTION;
SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM @done) THEN 1 ELSE 0 END AS bit) AS applied;`,
});

/**
 * FINISH_CANCELLED: running with a cancel requested → cancelled, for the lease holder; appends `cancelled`.
 * Params: lease key. Result: { changed } (0 or 1).
 */
export const FINISH_CANCELLED = statement('FINISH_CANCELLED', {
  idempotent: false,
  params: leaseParams,
  text: `
${WRITE_PREAMBLE}
DECLARE @changed int;
BEGIN TRANSACTION;
UPDATE t
SET status = 'cancelled', lease_expires_at = NULL, finished_at = @now, updated_at = @now
FROM ${TABLE.tasks} AS t WITH (ROWLOCK)
WHERE ${LEASE_HELD} AND t.cancel_requested = 1;
SET @changed = @@ROWCOUNT;
IF @changed = 1
BEGIN
  INSERT INTO ${TABLE.taskEvents} (task_id, at, kind, attempt, agent_id, data)
  VALUES (@taskId, @now, 'cancelled', @attempt, @agentId, NULL);
END;
COMMIT TRANSACTION;
SELECT @changed AS changed;`,
});

/**
 * RELEASE_TASK: running → queued without a failure (a draining worker hands the task back), dispatchable at
 * once; appends `released`. The attempt is not used up: the next claim runs attempt + 1 as usual.
 * Params: lease key. Result: { changed } (0 or 1).
 */
export const RELEASE_TASK = statement('RELEASE_TASK', {
  idempotent: false,
  params: leaseParams,
  text: `
${WRITE_PREAMBLE}
DECLARE @changed int;
BEGIN TRANSACTION;
UPDATE t
SET status = 'queued', agent_id = NULL, lease_expires_at = NULL, not_before = @now, dispatched_at = @now,
  updated_at = @now
FROM ${TABLE.tasks} AS t WITH (ROWLOCK)
WHERE ${LEASE_HELD};
SET @changed = @@ROWCOUNT;
IF @changed = 1
BEGIN
  INSERT INTO ${TABLE.taskEvents} (task_id, at, kind, attempt, agent_id, data)
  VALUES (@taskId, @now, 'released', @attempt, @agentId, NULL);
END;
COMMIT TRANSACTION;
SELECT @changed AS changed;`,
});
