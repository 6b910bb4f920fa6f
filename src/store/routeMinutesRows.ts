/** One row mapping of route_minutes for both stores (SQLite times are epoch ms, T-SQL's are Dates). */
import type { RouteMinute } from './routeMinutesPort';

export interface RouteMinuteRowOf<T> {
  route_key: string;
  minute: T;
  succeeded: number;
  failed: number;
  dead: number;
  cancelled: number;
  expired: number;
}

export function toRouteMinute<T>(row: RouteMinuteRowOf<T>, time: (v: T) => number): RouteMinute {
  return {
    routeKey: row.route_key,
    minute: time(row.minute),
    succeeded: Number(row.succeeded),
    failed: Number(row.failed),
    dead: Number(row.dead),
    cancelled: Number(row.cancelled),
    expired: Number(row.expired),
  };
}
