/** Route minutes: each route's finished and failed tasks per minute. Twin of `mssql/statements/routeMinutes.ts`. */
import type { Database } from 'better-sqlite3';
import { MINUTE_MS, ROUTE_MINUTE_KINDS } from '../../routeMinutesPort';
import type { RouteMinuteRowOf } from '../../routeMinutesRows';

const counted = (kinds: readonly string[]) => kinds.map((k) => `'${k}'`).join(', ');
const ALL_KINDS = counted(Object.values(ROUTE_MINUTE_KINDS).flat());
const sums = Object.entries(ROUTE_MINUTE_KINDS)
  .map(([column, kinds]) => `sum(e.kind IN (${counted(kinds)})) AS ${column}`)
  .join(',\n  ');

/**
 * ROLL_UP_ROUTE_MINUTE: the minute's events counted per route (a range of task_events_counted_kind_at per kind,
 * which the `kind <> 'started'` term lets the planner use, then each task by its key), inserted unless the route's
 * minute is there already. Params: @minute. Changes: the rows inserted.
 */
export const ROLL_UP_ROUTE_MINUTE = `
INSERT OR IGNORE INTO route_minutes (route_key, minute, succeeded, failed, dead, cancelled, expired)
SELECT t.route_key, @minute,
  ${sums}
FROM task_events AS e JOIN tasks AS t ON t.id = e.task_id
WHERE e.kind IN (${ALL_KINDS}) AND e.kind <> 'started' AND e.at >= @minute AND e.at < @minute + ${MINUTE_MS}
GROUP BY t.route_key`;

/** SELECT_ROUTE_MINUTES: the minutes of @routeKeys (JSON array) from @since on, by route then minute (the key). */
export const SELECT_ROUTE_MINUTES = `
SELECT m.* FROM route_minutes AS m
WHERE m.route_key IN (SELECT value FROM json_each(@routeKeys)) AND m.minute >= @since
ORDER BY m.route_key, m.minute`;

/** PURGE_ROUTE_MINUTES: up to @limit minutes before @before, oldest first (route_minutes_minute). Changes: n. */
export const PURGE_ROUTE_MINUTES = `
DELETE FROM route_minutes WHERE rowid IN (
  SELECT rowid FROM route_minutes WHERE minute < @before ORDER BY minute LIMIT @limit)`;

export function prepareRouteMinuteStatements(db: Database) {
  return {
    rollUp: db.prepare<{ minute: number }>(ROLL_UP_ROUTE_MINUTE),
    select: db.prepare<{ routeKeys: string; since: number }, RouteMinuteRowOf<number>>(SELECT_ROUTE_MINUTES),
    purge: db.prepare<{ before: number; limit: number }>(PURGE_ROUTE_MINUTES),
  };
}
