/**
 * Route controls, their events and the circuit breakers (src/domain/routeControl.ts). Twin of
 * `sqlite/statements/routeControls.ts`. The claim's own gate is in `lease.ts` (SPEND_ROUTE_CLAIM). A route is
 * named by its key and found by its hash (UX_routes_route_hash); an unknown route finds nothing.
 */
import { COLUMN_LENGTH, param, statement, TABLE, WRITE_PREAMBLE } from '../statement';

const routeKey = param.varchar(COLUMN_LENGTH.routeKey);
const actor = param.nvarchar(COLUMN_LENGTH.keyId);

const CONTROL_COLUMNS = `r.route_key, c.paused, c.paused_at, c.paused_by, c.rate_limit, c.tokens, c.tokens_at,
  c.concurrency_cap, c.circuit, c.circuit_at, c.probe_task_id, c.outcomes, c.outcomes_seq, c.updated_at`;

/** The route's id into @routeId (NULL for an unknown route). */
const ROUTE_ID = `
DECLARE @routeId int;
SELECT @routeId = id FROM ${TABLE.routes} WHERE route_hash = CAST(HASHBYTES('SHA2_256', @routeKey) AS binary(32));`;

/** Creates the route's control row with the defaults when it has none (under the key-range lock: once). */
const ENSURE_CONTROL = `
IF @routeId IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${TABLE.routeControls} WITH (UPDLOCK, HOLDLOCK)
                                        WHERE route_id = @routeId)
  INSERT INTO ${TABLE.routeControls} (route_id, updated_at) VALUES (@routeId, @now);`;

/** The stored control of @routeId as the last result set. */
const SELECT_CONTROL_OF = `
SELECT ${CONTROL_COLUMNS}
FROM ${TABLE.routeControls} AS c JOIN ${TABLE.routes} AS r ON r.id = c.route_id
WHERE c.route_id = @routeId;`;

/**
 * SELECT_ROUTE_CONTROL: one route's control. Params: @routeKey. Result sets: [0] { found } (1 when the route is
 * known), [1] its control row, or none when it has none.
 */
export const SELECT_ROUTE_CONTROL = statement('SELECT_ROUTE_CONTROL', {
  idempotent: true,
  params: { routeKey },
  text: `${ROUTE_ID}
SELECT CASE WHEN @routeId IS NULL THEN 0 ELSE 1 END AS found;
${SELECT_CONTROL_OF}`,
});

/** SELECT_ROUTE_CONTROLS: every control row with its route's running tasks (IX_tasks_status_route). */
export const SELECT_ROUTE_CONTROLS = statement('SELECT_ROUTE_CONTROLS', {
  idempotent: true,
  params: {},
  text: `
SELECT ${CONTROL_COLUMNS},
  (SELECT COUNT(*) FROM ${TABLE.tasks} AS t WHERE t.status = 'running' AND t.route_id = c.route_id) AS running
FROM ${TABLE.routeControls} AS c JOIN ${TABLE.routes} AS r ON r.id = c.route_id
ORDER BY r.route_key;`,
});

/**
 * SET_ROUTE_PAUSED: pauses (@paused 1) or resumes; a resume also closes the circuit with a fresh window. Records
 * `paused` or `resumed` (with the circuit it closed). Params: @routeKey, @paused, @actor, @now. Result: the row as
 * stored, or none for an unknown route.
 */
export const SET_ROUTE_PAUSED = statement('SET_ROUTE_PAUSED', {
  idempotent: false,
  params: { routeKey, paused: param.bit, actor, now: param.time },
  text: `
${WRITE_PREAMBLE}
${ROUTE_ID}
IF @routeId IS NULL RETURN;
BEGIN TRANSACTION;
${ENSURE_CONTROL}
DECLARE @circuit varchar(16);
SELECT @circuit = circuit FROM ${TABLE.routeControls} WITH (UPDLOCK) WHERE route_id = @routeId;
UPDATE ${TABLE.routeControls} SET paused = @paused, updated_at = @now,
  paused_at = CASE WHEN @paused = 1 THEN @now ELSE NULL END,
  paused_by = CASE WHEN @paused = 1 THEN @actor ELSE NULL END,
  circuit = CASE WHEN @paused = 1 THEN circuit ELSE 'closed' END,
  circuit_at = CASE WHEN @paused = 0 AND circuit <> 'closed' THEN @now ELSE circuit_at END,
  probe_task_id = CASE WHEN @paused = 1 THEN probe_task_id ELSE NULL END,
  outcomes = CASE WHEN @paused = 0 AND circuit <> 'closed' THEN '' ELSE outcomes END
WHERE route_id = @routeId;
INSERT INTO ${TABLE.routeEvents} (route_id, at, kind, actor, data)
VALUES (@routeId, @now, CASE WHEN @paused = 1 THEN 'paused' ELSE 'resumed' END, @actor,
  CASE WHEN @paused = 0 AND @circuit <> 'closed' THEN CONCAT(N'{"circuit":"', @circuit, N'"}') END);
COMMIT TRANSACTION;
${SELECT_CONTROL_OF}`,
});

/**
 * SET_ROUTE_LIMITS: sets the rate limit when @setRate = 1 and the cap when @setCap = 1 (NULL removes either); a
 * rate limit set anew starts with a full bucket. Records `limits_changed` with @data. Params: @routeKey, @setRate,
 * @rateLimit, @setCap, @concurrencyCap, @actor, @data, @now. Result: the row as stored, or none (unknown route).
 */
export const SET_ROUTE_LIMITS = statement('SET_ROUTE_LIMITS', {
  idempotent: true,
  params: {
    routeKey,
    setRate: param.bit,
    rateLimit: param.float,
    setCap: param.bit,
    concurrencyCap: param.int,
    actor,
    data: param.json,
    now: param.time,
  },
  text: `
${WRITE_PREAMBLE}
${ROUTE_ID}
IF @routeId IS NULL RETURN;
BEGIN TRANSACTION;
${ENSURE_CONTROL}
UPDATE ${TABLE.routeControls} SET updated_at = @now,
  rate_limit = CASE WHEN @setRate = 1 THEN @rateLimit ELSE rate_limit END,
  tokens = CASE WHEN @setRate = 1 AND @rateLimit IS NOT NULL
    THEN CASE WHEN @rateLimit > 1 THEN @rateLimit ELSE 1.0 END ELSE tokens END,
  tokens_at = CASE WHEN @setRate = 1 THEN @now ELSE tokens_at END,
  concurrency_cap = CASE WHEN @setCap = 1 THEN @concurrencyCap ELSE concurrency_cap END
WHERE route_id = @routeId;
INSERT INTO ${TABLE.routeEvents} (route_id, at, kind, actor, data)
VALUES (@routeId, @now, 'limits_changed', @actor, @data);
COMMIT TRANSACTION;
${SELECT_CONTROL_OF}`,
});

/**
 * UPDATE_ROUTE_CIRCUIT: the breaker's write, only while the circuit and outcomes_seq are still @expectCircuit and
 * @expectSeq; records @eventKind (when given) with @eventData in the same transaction. Params: @routeKey,
 * @expectCircuit, @expectSeq, @circuit, @circuitAt, @probeTaskId, @outcomes, @outcomesSeq, @eventKind,
 * @eventData, @now. Result: { changed }.
 */
export const UPDATE_ROUTE_CIRCUIT = statement('UPDATE_ROUTE_CIRCUIT', {
  idempotent: false,
  params: {
    routeKey,
    expectCircuit: param.varchar(16),
    expectSeq: param.bigint,
    circuit: param.varchar(16),
    circuitAt: param.time,
    probeTaskId: param.varchar(COLUMN_LENGTH.taskId),
    outcomes: param.varchar(100),
    outcomesSeq: param.bigint,
    eventKind: param.varchar(COLUMN_LENGTH.kind),
    eventData: param.json,
    now: param.time,
  },
  text: `
${WRITE_PREAMBLE}
${ROUTE_ID}
DECLARE @changed int = 0;
BEGIN TRANSACTION;
${ENSURE_CONTROL}
UPDATE ${TABLE.routeControls} SET circuit = @circuit, circuit_at = @circuitAt, probe_task_id = @probeTaskId,
  outcomes = @outcomes, outcomes_seq = @outcomesSeq, updated_at = @now
WHERE route_id = @routeId AND circuit = @expectCircuit AND outcomes_seq = @expectSeq;
SET @changed = @@ROWCOUNT;
IF @changed = 1 AND @eventKind IS NOT NULL
  INSERT INTO ${TABLE.routeEvents} (route_id, at, kind, actor, data) VALUES (@routeId, @now, @eventKind, NULL, @eventData);
COMMIT TRANSACTION;
SELECT @changed AS changed;`,
});

/** SELECT_ROUTE_EVENTS: a route's events newest first, before @beforeSeq. Params: @routeKey, @beforeSeq, @limit. */
export const SELECT_ROUTE_EVENTS = statement('SELECT_ROUTE_EVENTS', {
  idempotent: true,
  params: { routeKey, beforeSeq: param.bigint, limit: param.int },
  text: `${ROUTE_ID}
SELECT TOP (@limit) e.seq, @routeKey AS route_key, e.at, e.kind, e.actor, e.data
FROM ${TABLE.routeEvents} AS e
WHERE e.route_id = @routeId AND e.seq < @beforeSeq
ORDER BY e.seq DESC;`,
});

/** PURGE_ROUTE_EVENTS: up to @limit events recorded before @before (IX_route_events_at). Result: { deleted }. */
export const PURGE_ROUTE_EVENTS = statement('PURGE_ROUTE_EVENTS', {
  idempotent: true,
  params: { before: param.time, limit: param.int },
  text: `
${WRITE_PREAMBLE}
DELETE TOP (@limit) FROM ${TABLE.routeEvents} WITH (READPAST) WHERE at < @before;
SELECT @@ROWCOUNT AS deleted;`,
});

const breakerParams = {
  type: param.varchar(COLUMN_LENGTH.token),
  failures: param.int,
  window: param.int,
  cooldownMs: param.int,
  updatedAt: param.time,
  updatedBy: actor,
};

/** UPSERT_CIRCUIT_BREAKER: creates or replaces a type's breaker (under the key-range lock). Params: every column. */
export const UPSERT_CIRCUIT_BREAKER = statement('UPSERT_CIRCUIT_BREAKER', {
  idempotent: true,
  params: breakerParams,
  text: `
${WRITE_PREAMBLE}
BEGIN TRANSACTION;
UPDATE ${TABLE.circuitBreakers} WITH (UPDLOCK, HOLDLOCK)
SET failures = @failures, window_size = @window, cooldown_ms = @cooldownMs, updated_at = @updatedAt,
  updated_by = @updatedBy
WHERE type = @type;
IF @@ROWCOUNT = 0
  INSERT INTO ${TABLE.circuitBreakers} (type, failures, window_size, cooldown_ms, updated_at, updated_by)
  VALUES (@type, @failures, @window, @cooldownMs, @updatedAt, @updatedBy);
COMMIT TRANSACTION;`,
});

/** DELETE_CIRCUIT_BREAKER. Params: @type. Result: { type } of the row deleted, or none. */
export const DELETE_CIRCUIT_BREAKER = statement('DELETE_CIRCUIT_BREAKER', {
  idempotent: true,
  params: { type: breakerParams.type },
  text: `DELETE FROM ${TABLE.circuitBreakers} OUTPUT deleted.type WHERE type = @type;`,
});

/** SELECT_CIRCUIT_BREAKERS: by type. */
export const SELECT_CIRCUIT_BREAKERS = statement('SELECT_CIRCUIT_BREAKERS', {
  idempotent: true,
  params: {},
  text: `
SELECT type, failures, window_size, cooldown_ms, updated_at, updated_by
FROM ${TABLE.circuitBreakers} ORDER BY type;`,
});
