/**
 * Route controls, their events and the circuit breakers (src/domain/routeControl.ts). Twin of
 * `mssql/statements/routeControls.ts`. The claim's own check is in `lease.ts`. Parameters are named; times are
 * epoch milliseconds.
 */
import type { Database } from 'better-sqlite3';
import type { CircuitBreakerRowOf, RouteControlRowOf, RouteEventRowOf } from '../../routeControlRows';

type ControlRow = RouteControlRowOf<number, number>;

/** SELECT_ROUTE_EXISTS: whether a task was ever submitted on @routeKey. */
export const SELECT_ROUTE_EXISTS = `SELECT 1 AS found FROM routes WHERE key = @routeKey`;

/** SELECT_ROUTE_CONTROL: one route's control row (primary key). Params: @routeKey. */
export const SELECT_ROUTE_CONTROL = `SELECT * FROM route_controls WHERE route_key = @routeKey`;

/**
 * SELECT_ROUTE_CONTROLS: every control row with the route's running tasks (a seek of tasks_status_route_not_before
 * per row; the table holds only routes someone controlled).
 */
export const SELECT_ROUTE_CONTROLS = `
SELECT c.*, (SELECT COUNT(*) FROM tasks AS t WHERE t.status = 'running' AND t.route_key = c.route_key) AS running
FROM route_controls AS c ORDER BY c.route_key`;

/** ENSURE_ROUTE_CONTROL: a control row with the defaults when the route has none. Params: @routeKey, @now. */
export const ENSURE_ROUTE_CONTROL = `
INSERT INTO route_controls (route_key, updated_at) VALUES (@routeKey, @now) ON CONFLICT (route_key) DO NOTHING`;

/**
 * SET_ROUTE_PAUSED: pauses (@paused 1) or resumes; a resume also closes the circuit with a fresh window.
 * Params: @routeKey, @paused, @actor, @now. Result: the row as stored.
 */
export const SET_ROUTE_PAUSED = `
UPDATE route_controls SET paused = @paused, updated_at = @now,
  paused_at = CASE WHEN @paused = 1 THEN @now ELSE NULL END,
  paused_by = CASE WHEN @paused = 1 THEN @actor ELSE NULL END,
  circuit = CASE WHEN @paused = 1 THEN circuit ELSE 'closed' END,
  circuit_at = CASE WHEN @paused = 0 AND circuit <> 'closed' THEN @now ELSE circuit_at END,
  probe_task_id = CASE WHEN @paused = 1 THEN probe_task_id ELSE NULL END,
  outcomes = CASE WHEN @paused = 0 AND circuit <> 'closed' THEN '' ELSE outcomes END
WHERE route_key = @routeKey
RETURNING *`;

/**
 * SET_ROUTE_LIMITS: sets the rate limit when @setRate = 1 and the cap when @setCap = 1 (NULL removes either); a
 * rate limit set anew starts with a full bucket. Params: @routeKey, @setRate, @rateLimit, @setCap,
 * @concurrencyCap, @now. Result: the row as stored.
 */
export const SET_ROUTE_LIMITS = `
UPDATE route_controls SET updated_at = @now,
  rate_limit = CASE WHEN @setRate = 1 THEN @rateLimit ELSE rate_limit END,
  tokens = CASE WHEN @setRate = 1 AND @rateLimit IS NOT NULL THEN MAX(1.0, @rateLimit) ELSE tokens END,
  tokens_at = CASE WHEN @setRate = 1 THEN @now ELSE tokens_at END,
  concurrency_cap = CASE WHEN @setCap = 1 THEN @concurrencyCap ELSE concurrency_cap END
WHERE route_key = @routeKey
RETURNING *`;

/**
 * UPDATE_ROUTE_CIRCUIT: the breaker's write, only while the circuit and outcomes_seq are still @expectCircuit
 * and @expectSeq. Params: @routeKey, @expectCircuit, @expectSeq, @circuit, @circuitAt, @probeTaskId,
 * @outcomes, @outcomesSeq, @now. Changes: 0|1.
 */
export const UPDATE_ROUTE_CIRCUIT = `
UPDATE route_controls SET circuit = @circuit, circuit_at = @circuitAt, probe_task_id = @probeTaskId,
  outcomes = @outcomes, outcomes_seq = @outcomesSeq, updated_at = @now
WHERE route_key = @routeKey AND circuit = @expectCircuit AND outcomes_seq = @expectSeq`;

/** INSERT_ROUTE_EVENT. Params: @routeKey, @at, @kind, @actor, @data (JSON or NULL). */
export const INSERT_ROUTE_EVENT = `
INSERT INTO route_events (route_key, at, kind, actor, data) VALUES (@routeKey, @at, @kind, @actor, @data)`;

/** SELECT_ROUTE_EVENTS: a route's events newest first, before @beforeSeq. Params: @routeKey, @beforeSeq, @limit. */
export const SELECT_ROUTE_EVENTS = `
SELECT * FROM route_events WHERE route_key = @routeKey AND seq < @beforeSeq ORDER BY seq DESC LIMIT @limit`;

/** PURGE_ROUTE_EVENTS: up to @limit events recorded before @before, oldest first (route_events_at). Changes: n. */
export const PURGE_ROUTE_EVENTS = `
DELETE FROM route_events WHERE seq IN (
  SELECT seq FROM route_events WHERE at < @before ORDER BY at LIMIT @limit)`;

/** UPSERT_CIRCUIT_BREAKER. Params: @type, @failures, @window, @cooldownMs, @updatedAt, @updatedBy. */
export const UPSERT_CIRCUIT_BREAKER = `
INSERT INTO circuit_breakers (type, failures, window_size, cooldown_ms, updated_at, updated_by)
VALUES (@type, @failures, @window, @cooldownMs, @updatedAt, @updatedBy)
ON CONFLICT (type) DO UPDATE SET failures = excluded.failures, window_size = excluded.window_size,
  cooldown_ms = excluded.cooldown_ms, updated_at = excluded.updated_at, updated_by = excluded.updated_by`;

/** DELETE_CIRCUIT_BREAKER. Params: @type. Changes: 0|1. */
export const DELETE_CIRCUIT_BREAKER = `DELETE FROM circuit_breakers WHERE type = @type`;

/** SELECT_CIRCUIT_BREAKERS: by type. */
export const SELECT_CIRCUIT_BREAKERS = `SELECT * FROM circuit_breakers ORDER BY type`;

export function prepareRouteControlStatements(db: Database) {
  return {
    routeExists: db.prepare<{ routeKey: string }, { found: number }>(SELECT_ROUTE_EXISTS),
    selectControl: db.prepare<{ routeKey: string }, ControlRow>(SELECT_ROUTE_CONTROL),
    selectControls: db.prepare<[], ControlRow>(SELECT_ROUTE_CONTROLS),
    ensureControl: db.prepare<{ routeKey: string; now: number }>(ENSURE_ROUTE_CONTROL),
    setPaused: db.prepare<{ routeKey: string; paused: number; actor: string; now: number }, ControlRow>(
      SET_ROUTE_PAUSED,
    ),
    setLimits: db.prepare<
      {
        routeKey: string;
        setRate: number;
        rateLimit: number | null;
        setCap: number;
        concurrencyCap: number | null;
        now: number;
      },
      ControlRow
    >(SET_ROUTE_LIMITS),
    updateCircuit: db.prepare<{
      routeKey: string;
      expectCircuit: string;
      expectSeq: number;
      circuit: string;
      circuitAt: number | null;
      probeTaskId: string | null;
      outcomes: string;
      outcomesSeq: number;
      now: number;
    }>(UPDATE_ROUTE_CIRCUIT),
    insertEvent: db.prepare<{
      routeKey: string;
      at: number;
      kind: string;
      actor: string | null;
      data: string | null;
    }>(INSERT_ROUTE_EVENT),
    selectEvents: db.prepare<{ routeKey: string; beforeSeq: number; limit: number }, RouteEventRowOf<number, number>>(
      SELECT_ROUTE_EVENTS,
    ),
    upsertBreaker: db.prepare<{
      type: string;
      failures: number;
      window: number;
      cooldownMs: number;
      updatedAt: number;
      updatedBy: string;
    }>(UPSERT_CIRCUIT_BREAKER),
    deleteBreaker: db.prepare<{ type: string }>(DELETE_CIRCUIT_BREAKER),
    purgeEvents: db.prepare<{ before: number; limit: number }>(PURGE_ROUTE_EVENTS),
    selectBreakers: db.prepare<[], CircuitBreakerRowOf<number>>(SELECT_CIRCUIT_BREAKERS),
  };
}
