/**
 * The route-control part of the store port (src/store/port.ts `Store` extends it): pauses, rate limits,
 * concurrency caps and circuit state per route, their events, and the circuit breakers configured per task type
 * (src/domain/routeControl.ts). The claim (`claimTask`) obeys the controls in the same statement; these methods
 * set and read them. Routes are named by their key (`routeKey`); a route no task was ever submitted on is
 * unknown (null / false).
 */
import type {
  CircuitBreaker,
  RouteControl,
  RouteControlLoad,
  RouteEvent,
  RouteEventKind,
} from '../domain/routeControl';

export interface RouteActor {
  /** The API key id of an admin. */
  actor: string;
  now: number;
}

export interface RouteCircuitUpdate {
  routeKey: string;
  /** Applied only while the stored circuit and outcomes seq are these (another supervisor did not move it). */
  expect: Pick<RouteControl, 'circuit' | 'outcomesSeq'>;
  next: Pick<RouteControl, 'circuit' | 'circuitAt' | 'probeTaskId' | 'outcomes' | 'outcomesSeq'>;
  /** Recorded with the change, in the same transaction. */
  event: { kind: RouteEventKind; data: Record<string, unknown> } | null;
  now: number;
}

export interface RouteControlStore {
  /** The control of one route (defaults when none was ever set), or null when the route is unknown. */
  getRouteControl(routeKey: string): Promise<RouteControl | null>;
  /** Every route with a control row, with its running tasks: what the route gate and the figures read. */
  listRouteControls(): Promise<RouteControlLoad[]>;
  /**
   * Pauses or resumes a route, with a `paused` / `resumed` event. Resuming also closes an open or half-open
   * circuit (an operator's override, recorded in the event). Null when the route is unknown.
   */
  setRoutePaused(opts: RouteActor & { routeKey: string; paused: boolean }): Promise<RouteControl | null>;
  /**
   * Sets the rate limit and/or the concurrency cap (undefined: unchanged; null: removed), with a
   * `limits_changed` event. A new rate limit starts with a full bucket. Null when the route is unknown.
   */
  setRouteLimits(
    opts: RouteActor & { routeKey: string; rateLimit?: number | null; concurrencyCap?: number | null },
  ): Promise<RouteControl | null>;
  /** The breaker's conditional write (see RouteCircuitUpdate); creates the control row when absent. */
  updateRouteCircuit(update: RouteCircuitUpdate): Promise<boolean>;
  /** A route's events, newest first, before `beforeSeq` when given. */
  listRouteEvents(opts: { routeKey: string; beforeSeq?: number; limit: number }): Promise<RouteEvent[]>;

  /** Deletes up to `limit` of the oldest route events recorded before `before` (the retention purge). */
  purgeRouteEvents(opts: { before: number; limit: number }): Promise<number>;

  /** Creates or replaces the breaker of a task type. */
  putCircuitBreaker(breaker: CircuitBreaker): Promise<void>;
  /** False when the type has none. */
  removeCircuitBreaker(type: string): Promise<boolean>;
  /** By type. */
  listCircuitBreakers(): Promise<CircuitBreaker[]>;
}
