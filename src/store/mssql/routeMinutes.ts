/** Route minutes in the mssql adapter. Twin of `sqlite/routeMinutes.ts`. */
import type { RouteMinute, RouteMinuteStore } from '../routeMinutesPort';
import { toRouteMinute, type RouteMinuteRowOf } from '../routeMinutesRows';
import type { SqlClient } from './client';
import { fromDate } from './rows';
import * as statements from './statements/routeMinutes';

export class MssqlRouteMinutes implements RouteMinuteStore {
  constructor(private readonly db: SqlClient) {}

  async rollUpRouteMinute(minute: number): Promise<number> {
    const sets = await this.db.run(statements.ROLL_UP_ROUTE_MINUTE, { minute });
    return Number((sets.at(-1)?.[0] as { inserted?: number } | undefined)?.inserted ?? 0);
  }

  async listRouteMinutes(opts: { routeKeys: readonly string[]; since: number }): Promise<RouteMinute[]> {
    if (opts.routeKeys.length === 0) return [];
    const rows = await this.db.all<string, RouteMinuteRowOf<Date>>(statements.SELECT_ROUTE_MINUTES, {
      routeKeys: JSON.stringify(opts.routeKeys),
      since: opts.since,
    });
    return rows.map((r) => toRouteMinute(r, fromDate));
  }

  async purgeRouteMinutes(opts: { before: number; limit: number }): Promise<number> {
    const sets = await this.db.run(statements.PURGE_ROUTE_MINUTES, opts);
    return Number((sets.at(-1)?.[0] as { deleted?: number } | undefined)?.deleted ?? 0);
  }
}
