/** Route controls, their events and the circuit breakers in the mssql adapter. Twin of `sqlite/routeControls.ts`. */
import type { CircuitBreaker, RouteControl, RouteControlLoad, RouteEvent } from '../../domain/routeControl';
import type { RouteActor, RouteCircuitUpdate, RouteControlStore } from '../routeControlPort';
import {
  defaultControl,
  routeControlMappers,
  type CircuitBreakerRowOf,
  type RouteControlRowOf,
  type RouteEventRowOf,
} from '../routeControlRows';
import type { SqlClient } from './client';
import { COLUMNS } from './rows';
import * as statements from './statements/routeControls';

const map = routeControlMappers<Date, boolean, string | number>(COLUMNS);
type ControlRow = RouteControlRowOf<Date, boolean>;

export class MssqlRouteControls implements RouteControlStore {
  constructor(private readonly db: SqlClient) {}

  async getRouteControl(routeKey: string): Promise<RouteControl | null> {
    const [found = [], control = []] = await this.db.run(statements.SELECT_ROUTE_CONTROL, { routeKey });
    const row = control[0] as ControlRow | undefined;
    if (row) return map.toControl(row);
    return (found[0] as { found: number } | undefined)?.found === 1 ? defaultControl(routeKey, Date.now()) : null;
  }

  async listRouteControls(): Promise<RouteControlLoad[]> {
    return (await this.db.all<never, ControlRow>(statements.SELECT_ROUTE_CONTROLS, {})).map(map.toLoad);
  }

  async setRoutePaused(opts: RouteActor & { routeKey: string; paused: boolean }): Promise<RouteControl | null> {
    const sets = await this.db.run(statements.SET_ROUTE_PAUSED, opts);
    const row = sets.at(-1)?.[0] as ControlRow | undefined;
    return row ? map.toControl(row) : null;
  }

  async setRouteLimits(
    opts: RouteActor & { routeKey: string; rateLimit?: number | null; concurrencyCap?: number | null },
  ): Promise<RouteControl | null> {
    const data: Record<string, unknown> = {};
    if (opts.rateLimit !== undefined) data.rateLimit = opts.rateLimit;
    if (opts.concurrencyCap !== undefined) data.concurrencyCap = opts.concurrencyCap;
    const sets = await this.db.run(statements.SET_ROUTE_LIMITS, {
      routeKey: opts.routeKey,
      setRate: opts.rateLimit !== undefined,
      rateLimit: opts.rateLimit ?? null,
      setCap: opts.concurrencyCap !== undefined,
      concurrencyCap: opts.concurrencyCap ?? null,
      actor: opts.actor,
      data: JSON.stringify(data),
      now: opts.now,
    });
    const row = sets.at(-1)?.[0] as ControlRow | undefined;
    return row ? map.toControl(row) : null;
  }

  async updateRouteCircuit(u: RouteCircuitUpdate): Promise<boolean> {
    const sets = await this.db.run(statements.UPDATE_ROUTE_CIRCUIT, {
      routeKey: u.routeKey,
      expectCircuit: u.expect.circuit,
      expectSeq: u.expect.outcomesSeq,
      ...u.next,
      eventKind: u.event?.kind ?? null,
      eventData: u.event ? JSON.stringify(u.event.data) : null,
      now: u.now,
    });
    return Number((sets.at(-1)?.[0] as { changed?: number } | undefined)?.changed ?? 0) === 1;
  }

  async listRouteEvents(opts: { routeKey: string; beforeSeq?: number; limit: number }): Promise<RouteEvent[]> {
    const rows = await this.db.all<string, RouteEventRowOf<Date, string | number>>(statements.SELECT_ROUTE_EVENTS, {
      routeKey: opts.routeKey,
      beforeSeq: opts.beforeSeq ?? Number.MAX_SAFE_INTEGER,
      limit: opts.limit,
    });
    return rows.map(map.toEvent);
  }

  async purgeRouteEvents(opts: { before: number; limit: number }): Promise<number> {
    const sets = await this.db.run(statements.PURGE_ROUTE_EVENTS, opts);
    return Number((sets.at(-1)?.[0] as { deleted?: number } | undefined)?.deleted ?? 0);
  }

  async putCircuitBreaker(b: CircuitBreaker): Promise<void> {
    await this.db.run(statements.UPSERT_CIRCUIT_BREAKER, b);
  }

  async removeCircuitBreaker(type: string): Promise<boolean> {
    return (await this.db.all(statements.DELETE_CIRCUIT_BREAKER, { type })).length === 1;
  }

  async listCircuitBreakers(): Promise<CircuitBreaker[]> {
    const rows = await this.db.all<never, CircuitBreakerRowOf<Date>>(statements.SELECT_CIRCUIT_BREAKERS, {});
    return rows.map(map.toBreaker);
  }
}
