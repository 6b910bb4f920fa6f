/**
 * Route minutes: each route's finished and failed tasks per minute (the console's route charts). Twin of
 * `sqlite/statements/routeMinutes.ts`. Rows are keyed by route id; a reader names routes by key, found by hash
 * (UX_routes_route_hash).
 */
import { MINUTE_MS, ROUTE_MINUTE_KINDS } from '../../routeMinutesPort';
import { param, statement, TABLE, WRITE_PREAMBLE } from '../statement';

const counted = (kinds: readonly string[]) => kinds.map((k) => `'${k}'`).join(', ');
const ALL_KINDS = counted(Object.values(ROUTE_MINUTE_KINDS).flat());
const sums = Object.entries(ROUTE_MINUTE_KINDS)
  .map(([column, kinds]) => `SUM(CASE WHEN e.kind IN (${counted(kinds)}) THEN 1 ELSE 0 END) AS ${column}`)
  .join(',\n  ');

/**
 * ROLL_UP_ROUTE_MINUTE: the minute's events counted per route (a range of IX_task_events_kind_at per kind, then
 * each task by its key), inserted for the routes whose minute is not there yet. The key-range lock (UPDLOCK,
 * HOLDLOCK) on the absent rows makes a second supervisor rolling up the same minute wait, then insert nothing; a
 * deadlock between the two is retried, and a retry changes nothing once the first committed. Params: @minute.
 * Result: { inserted }.
 */
export const ROLL_UP_ROUTE_MINUTE = statement('ROLL_UP_ROUTE_MINUTE', {
  idempotent: true,
  params: { minute: param.time },
  text: `
${WRITE_PREAMBLE}
DECLARE @end datetime2(3) = DATEADD(millisecond, ${MINUTE_MS}, @minute);
INSERT INTO ${TABLE.routeMinutes} (route_id, minute, succeeded, failed, dead, cancelled, expired)
SELECT t.route_id, @minute,
  ${sums}
FROM ${TABLE.taskEvents} AS e
JOIN ${TABLE.tasks} AS t ON t.id = e.task_id
WHERE e.kind IN (${ALL_KINDS}) AND e.at >= @minute AND e.at < @end
  AND NOT EXISTS (SELECT 1 FROM ${TABLE.routeMinutes} AS m WITH (UPDLOCK, HOLDLOCK)
                  WHERE m.route_id = t.route_id AND m.minute = @minute)
GROUP BY t.route_id;
SELECT @@ROWCOUNT AS inserted;`,
});

/**
 * SELECT_ROUTE_MINUTES: the minutes of @routeKeys (JSON array) from @since on, by route key then minute: one seek
 * of PK_route_minutes per route. Result: { route_key, minute, succeeded, failed, dead, cancelled, expired } rows.
 */
export const SELECT_ROUTE_MINUTES = statement('SELECT_ROUTE_MINUTES', {
  idempotent: true,
  params: { routeKeys: param.json, since: param.time },
  text: `
SELECT r.route_key, m.minute, m.succeeded, m.failed, m.dead, m.cancelled, m.expired
FROM OPENJSON(@routeKeys) WITH (route_key varchar(2200) '$') AS k
JOIN ${TABLE.routes} AS r ON r.route_hash = CAST(HASHBYTES('SHA2_256', k.route_key) AS binary(32))
JOIN ${TABLE.routeMinutes} AS m ON m.route_id = r.id AND m.minute >= @since
ORDER BY r.route_key, m.minute;`,
});

/** PURGE_ROUTE_MINUTES: up to @limit minutes before @before (IX_route_minutes_minute). Result: { deleted }. */
export const PURGE_ROUTE_MINUTES = statement('PURGE_ROUTE_MINUTES', {
  idempotent: true,
  params: { before: param.time, limit: param.int },
  text: `
${WRITE_PREAMBLE}
DELETE TOP (@limit) FROM ${TABLE.routeMinutes} WITH (READPAST) WHERE minute < @before;
SELECT @@ROWCOUNT AS deleted;`,
});
