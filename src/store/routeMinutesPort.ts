/**
 * The route-minutes part of the store port (src/store/port.ts `Store` extends it): each route's tasks finished
 * or failed per minute, rolled up from the task event log once the minute has ended (src/supervisor/routeMinutes.ts),
 * for the console's route charts (`GET /v1/routes?series=`). A minute in which a route had none of these events
 * has no row: a reader counts it as zeros.
 */

/** The task event kinds a route minute counts, by the column that counts them. */
export const ROUTE_MINUTE_KINDS = {
  succeeded: ['succeeded'],
  /** Attempt failures: a handler's failure, or a lease that expired (the attempt was lost). */
  failed: ['failed', 'lease_expired'],
  dead: ['dead'],
  cancelled: ['cancelled'],
  expired: ['expired'],
} as const;

export const MINUTE_MS = 60_000;

export interface RouteMinute {
  routeKey: string;
  /** The minute's start, epoch milliseconds (a multiple of MINUTE_MS). */
  minute: number;
  succeeded: number;
  failed: number;
  dead: number;
  cancelled: number;
  expired: number;
}

export interface RouteMinuteStore {
  /**
   * Counts the minute's task events (from `minute` to `minute + MINUTE_MS`) per route in one grouped read and
   * records each route's counts, unless that route's minute is recorded already: supervisors rolling up the same
   * minute store it once, and a second roll-up changes nothing. Answers the rows inserted.
   */
  rollUpRouteMinute(minute: number): Promise<number>;
  /** The recorded minutes of these routes from `since` on, by route key then minute. */
  listRouteMinutes(opts: { routeKeys: readonly string[]; since: number }): Promise<RouteMinute[]>;
  /** Deletes up to `limit` of the oldest minutes before `before` (the retention purge). */
  purgeRouteMinutes(opts: { before: number; limit: number }): Promise<number>;
}
