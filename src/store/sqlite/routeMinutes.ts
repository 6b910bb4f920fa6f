/** Route minutes in the SQLite adapter. Twin of `mssql/routeMinutes.ts`. */
import type { RouteMinute, RouteMinuteStore } from '../routeMinutesPort';
import { toRouteMinute } from '../routeMinutesRows';
import type { SqliteRunners } from './schedules';
import type { SqliteStatements } from './statements';

export class SqliteRouteMinutes implements RouteMinuteStore {
  constructor(
    private readonly statements: SqliteStatements,
    private readonly runners: SqliteRunners,
  ) {}

  private get s() {
    return this.statements.routeMinutes;
  }

  rollUpRouteMinute(minute: number): Promise<number> {
    return this.runners.write(() => this.s.rollUp.run({ minute }).changes);
  }

  listRouteMinutes(opts: { routeKeys: readonly string[]; since: number }): Promise<RouteMinute[]> {
    if (opts.routeKeys.length === 0) return Promise.resolve([]);
    return this.runners.read(() =>
      this.s.select
        .all({ routeKeys: JSON.stringify(opts.routeKeys), since: opts.since })
        .map((r) => toRouteMinute(r, (v) => v)),
    );
  }

  purgeRouteMinutes(opts: { before: number; limit: number }): Promise<number> {
    return this.runners.write(() => this.s.purge.run(opts).changes);
  }
}
