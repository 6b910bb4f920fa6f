/** Route controls, their events and the circuit breakers in the SQLite adapter. Twin of `mssql/routeControls.ts`. */
import type {
  CircuitBreaker,
  RouteControl,
  RouteControlLoad,
  RouteEvent,
  RouteEventKind,
} from '../../domain/routeControl';
import type { RouteActor, RouteCircuitUpdate, RouteControlStore } from '../routeControlPort';
import { defaultControl, routeControlMappers } from '../routeControlRows';
import type { SqliteRunners } from './schedules';
import type { SqliteStatements } from './statements';

const map = routeControlMappers<number, number, number>({
  time: (v) => v,
  flag: (v) => v !== 0,
  seq: (v) => v,
});

export class SqliteRouteControls implements RouteControlStore {
  constructor(
    private readonly statements: SqliteStatements,
    private readonly runners: SqliteRunners,
  ) {}

  private get s() {
    return this.statements.routeControls;
  }

  getRouteControl(routeKey: string): Promise<RouteControl | null> {
    return this.runners.read(() => {
      const row = this.s.selectControl.get({ routeKey });
      if (row) return map.toControl(row);
      return this.s.routeExists.get({ routeKey }) ? defaultControl(routeKey, Date.now()) : null;
    });
  }

  listRouteControls(): Promise<RouteControlLoad[]> {
    return this.runners.read(() => this.s.selectControls.all().map(map.toLoad));
  }

  setRoutePaused(opts: RouteActor & { routeKey: string; paused: boolean }): Promise<RouteControl | null> {
    return this.runners.write(() => {
      if (!this.ensure(opts.routeKey, opts.now)) return null;
      const before = this.s.selectControl.get({ routeKey: opts.routeKey })!;
      const [row] = this.s.setPaused.all({ ...opts, paused: opts.paused ? 1 : 0 });
      const data = !opts.paused && before.circuit !== 'closed' ? { circuit: before.circuit } : null;
      this.event(opts.routeKey, opts.now, opts.paused ? 'paused' : 'resumed', opts.actor, data);
      return map.toControl(row!);
    });
  }

  setRouteLimits(
    opts: RouteActor & { routeKey: string; rateLimit?: number | null; concurrencyCap?: number | null },
  ): Promise<RouteControl | null> {
    return this.runners.write(() => {
      if (!this.ensure(opts.routeKey, opts.now)) return null;
      const [row] = this.s.setLimits.all({
        routeKey: opts.routeKey,
        setRate: opts.rateLimit === undefined ? 0 : 1,
        rateLimit: opts.rateLimit ?? null,
        setCap: opts.concurrencyCap === undefined ? 0 : 1,
        concurrencyCap: opts.concurrencyCap ?? null,
        now: opts.now,
      });
      const data: Record<string, unknown> = {};
      if (opts.rateLimit !== undefined) data.rateLimit = opts.rateLimit;
      if (opts.concurrencyCap !== undefined) data.concurrencyCap = opts.concurrencyCap;
      this.event(opts.routeKey, opts.now, 'limits_changed', opts.actor, data);
      return map.toControl(row!);
    });
  }

  updateRouteCircuit(u: RouteCircuitUpdate): Promise<boolean> {
    return this.runners.write(() => {
      if (!this.ensure(u.routeKey, u.now)) return false;
      const changed = this.s.updateCircuit.run({
        routeKey: u.routeKey,
        expectCircuit: u.expect.circuit,
        expectSeq: u.expect.outcomesSeq,
        ...u.next,
        now: u.now,
      }).changes;
      if (changed === 1 && u.event) this.event(u.routeKey, u.now, u.event.kind, null, u.event.data);
      return changed === 1;
    });
  }

  listRouteEvents(opts: { routeKey: string; beforeSeq?: number; limit: number }): Promise<RouteEvent[]> {
    return this.runners.read(() =>
      this.s.selectEvents
        .all({ routeKey: opts.routeKey, beforeSeq: opts.beforeSeq ?? Number.MAX_SAFE_INTEGER, limit: opts.limit })
        .map(map.toEvent),
    );
  }

  purgeRouteEvents(opts: { before: number; limit: number }): Promise<number> {
    return this.runners.write(() => this.s.purgeEvents.run(opts).changes);
  }

  putCircuitBreaker(b: CircuitBreaker): Promise<void> {
    return this.runners.write(() => {
      this.s.upsertBreaker.run(b);
    });
  }

  removeCircuitBreaker(type: string): Promise<boolean> {
    return this.runners.write(() => this.s.deleteBreaker.run({ type }).changes === 1);
  }

  listCircuitBreakers(): Promise<CircuitBreaker[]> {
    return this.runners.read(() => this.s.selectBreakers.all().map(map.toBreaker));
  }

  /** Makes sure the route has a control row; false when no task was ever submitted on it. */
  private ensure(routeKey: string, now: number): boolean {
    if (!this.s.routeExists.get({ routeKey })) return false;
    this.s.ensureControl.run({ routeKey, now });
    return true;
  }

  private event(
    routeKey: string,
    at: number,
    kind: RouteEventKind,
    actor: string | null,
    data: Record<string, unknown> | null,
  ): void {
    this.s.insertEvent.run({ routeKey, at, kind, actor, data: data === null ? null : JSON.stringify(data) });
  }
}
