/**
 * Each route's throughput and failures per minute, for the console's route charts (`GET /v1/routes?series=N`).
 *
 * The roll-up (RouteMinuteRollup) runs in every supervisor's loops. Once a minute has ended, and SETTLE_MS more
 * have passed for the events written near its end (by workers on other machines, through group commits) to land,
 * it counts that minute's task events per route in one grouped read and stores the counts (store.rollUpRouteMinute).
 * The store inserts a route's minute only when it is absent, so several supervisors rolling up the same minute
 * store it once; an event stamped in a minute but written after that minute was rolled up is not counted. After a
 * start, a supervisor rolls up the last CATCH_UP_MINUTES it may have missed (a minute already stored is kept).
 * The rows are purged with the finished tasks they count (TASKFLEET_RETENTION_SUCCEEDED, src/supervisor/purge.ts).
 */
import type { Logger } from 'pino';
import type { Clock } from '../domain/clock';
import type { Store } from '../store/port';
import { MINUTE_MS, ROUTE_MINUTE_KINDS } from '../store/routeMinutesPort';

/** How long after a minute ends it is rolled up. */
export const SETTLE_MS = 5_000;
/** How often the loop looks for a minute to roll up (a pass without one reads nothing). */
export const ROLL_UP_PASS_MS = 10_000;
/** How many past minutes a supervisor rolls up at most in one pass (after a start, or a long stall). */
export const CATCH_UP_MINUTES = 15;

export class RouteMinuteRollup {
  /** The start of the last minute this supervisor rolled up. */
  private last: number | null = null;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Rolls up every minute that has settled since the last pass. Answers the minutes rolled up and rows stored. */
  async pass(): Promise<{ minutes: number; rows: number }> {
    const due = Math.floor((this.clock.now() - SETTLE_MS) / MINUTE_MS) * MINUTE_MS - MINUTE_MS;
    const first = Math.max(
      this.last === null ? -Infinity : this.last + MINUTE_MS,
      due - (CATCH_UP_MINUTES - 1) * MINUTE_MS,
    );
    let minutes = 0;
    let rows = 0;
    for (let minute = first; minute <= due; minute += MINUTE_MS) {
      rows += await this.store.rollUpRouteMinute(minute);
      this.last = minute;
      minutes++;
    }
    if (rows > 0) this.log.debug({ minutes, rows }, 'rolled up route minutes');
    return { minutes, rows };
  }
}

export type SeriesColumn = keyof typeof ROUTE_MINUTE_KINDS;
const COLUMNS = Object.keys(ROUTE_MINUTE_KINDS) as SeriesColumn[];

/** One route's counts per minute, oldest first, one entry per minute of the window (0 where nothing happened). */
export type RouteSeries = { start: string; stepMs: number } & Record<SeriesColumn, number[]>;

/**
 * The last `minutes` complete minutes (the current one left out) of each route in `routeKeys`, in one read.
 * The latest minute fills in once it is rolled up (SETTLE_MS to SETTLE_MS + ROLL_UP_PASS_MS after it ended).
 */
export async function routeSeries(
  store: Store,
  routeKeys: readonly string[],
  minutes: number,
  now: number,
): Promise<Map<string, RouteSeries>> {
  const end = Math.floor(now / MINUTE_MS) * MINUTE_MS;
  const start = end - minutes * MINUTE_MS;
  const rows = await store.listRouteMinutes({ routeKeys, since: start });
  const series = new Map<string, RouteSeries>();
  const empty = (): RouteSeries => {
    const s = { start: new Date(start).toISOString(), stepMs: MINUTE_MS } as RouteSeries;
    for (const c of COLUMNS) s[c] = new Array<number>(minutes).fill(0);
    return s;
  };
  for (const key of routeKeys) series.set(key, empty());
  for (const row of rows) {
    const i = (row.minute - start) / MINUTE_MS;
    const s = series.get(row.routeKey);
    if (!s || i < 0 || i >= minutes) continue;
    for (const c of COLUMNS) s[c][i] = row[c];
  }
  return series;
}
