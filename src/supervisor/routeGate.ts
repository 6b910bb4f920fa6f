/**
 * The route gate: each supervisor's view of the route controls (src/domain/routeControl.ts), read from SQL every
 * `intervalMs`, and the doorbells of the routes they hold.
 *
 * A controlled route (paused, circuit not closed, a rate limit or a concurrency cap) gets no doorbell from the
 * ordinary dispatch: placement answers null for it (poolPlacement.ts), the reconciler counts its doorbells as
 * present, the rebalancer leaves it alone. Instead, every pass rings for as many of its oldest due tasks as the
 * route allows now (its `allowance`: none while paused or open, the probe while half-open, what the cap and the
 * bucket leave), on the pools placement would choose. The claim decides in the end: a doorbell over the allowance
 * (several supervisors ring, a worker is slower than the bucket) is refused at its claim as held and dropped, and
 * rung again by a later pass. Ringing the same task twice on one pool is a no-op (its job id). A route that stops
 * being controlled has its queued tasks dispatched at once.
 *
 * The gate also moves an open circuit to half-open once its breaker's cool-down has passed (a conditional write,
 * so once with several supervisors), and hands the breaker (circuitBreaker.ts) the routes it watches.
 */
import type { Logger } from 'pino';
import { parseRouteKey, routeKey, type Route } from '../domain/capabilities';
import type { Clock } from '../domain/clock';
import { allowance, isGated, type CircuitBreaker, type RouteControlLoad } from '../domain/routeControl';
import type { Dispatcher } from '../dispatch/dispatcher';
import { notifyWork } from '../dispatch/notify';
import type { DispatchRow, Store } from '../store/port';
import type { PoolPlacement } from './poolPlacement';

export interface RouteGateOptions {
  store: Store;
  dispatcher: Dispatcher;
  placement: PoolPlacement;
  clock: Clock;
  log: Logger;
  /** How often the controls are read and held routes rung (TASKFLEET_ROUTE_GATE_MS). */
  intervalMs: number;
  /** Rows per query when a released route's tasks are dispatched. */
  pageSize?: number;
}

export interface GatePass {
  /** Tasks rung on held routes. */
  rung: number;
  /** Tasks dispatched because their route stopped being controlled. */
  released: number;
}

export class RouteGate {
  private controls = new Map<string, RouteControlLoad>();
  private gated = new Set<string>();
  private breakers = new Map<string, CircuitBreaker>();
  private passing: Promise<GatePass> | null = null;
  /** Listeners told the breakers and controls after each read (the circuit breaker). */
  private readonly readers: Array<(controls: ReadonlyMap<string, RouteControlLoad>) => void> = [];

  constructor(private readonly opts: RouteGateOptions) {}

  /** Whether the route is controlled: its doorbells come from the gate only. */
  holds(routeKey: string): boolean {
    return this.gated.has(routeKey);
  }

  /** Whether the route starts nothing now: paused, or its circuit open. */
  shuts(routeKey: string): boolean {
    const c = this.controls.get(routeKey);
    return c !== undefined && (c.paused || c.circuit === 'open');
  }

  /** The route's control as last read (undefined: none). */
  control(routeKey: string): RouteControlLoad | undefined {
    return this.controls.get(routeKey);
  }

  /** Every control as last read. */
  all(): ReadonlyMap<string, RouteControlLoad> {
    return this.controls;
  }

  /** The circuit breakers per task type, as last read. */
  breakerOf(type: string): CircuitBreaker | undefined {
    return this.breakers.get(type);
  }

  get breakerTypes(): number {
    return this.breakers.size;
  }

  onRead(fn: (controls: ReadonlyMap<string, RouteControlLoad>) => void): void {
    this.readers.push(fn);
  }

  /** One pass (concurrent callers share it): read, release, half-open, ring. */
  pass(): Promise<GatePass> {
    this.passing ??= this.run().finally(() => {
      this.passing = null;
    });
    return this.passing;
  }

  /**
   * After a change made here (an API call): a pass now, whose outcome the caller need not wait for; when one is
   * under way (it may have read the controls before the change), another one after it.
   */
  poke(): void {
    const run = () => void this.pass().catch((err: unknown) => this.opts.log.warn({ err }, 'route gate pass failed'));
    if (this.passing) void this.passing.then(run, run);
    else run();
  }

  private async run(): Promise<GatePass> {
    const { store, clock } = this.opts;
    const [list, breakers] = await Promise.all([store.listRouteControls(), store.listCircuitBreakers()]);
    this.breakers = new Map(breakers.map((b) => [b.type, b]));
    const before = this.gated;
    this.controls = new Map(list.map((c) => [c.routeKey, c]));
    this.gated = new Set(list.filter(isGated).map((c) => c.routeKey));
    for (const fn of this.readers) fn(this.controls);
    const now = clock.now();
    await this.halfOpen(now);
    let released = 0;
    for (const key of before) if (!this.gated.has(key)) released += await this.release(parseRouteKey(key));
    let rung = 0;
    for (const c of this.controls.values()) {
      if (!this.gated.has(c.routeKey)) continue;
      const n = allowance(c, now, this.opts.intervalMs);
      if (n > 0) rung += await this.ring(parseRouteKey(c.routeKey), Math.min(n, this.opts.pageSize ?? 500), now);
    }
    return { rung, released };
  }

  /** Open circuits whose breaker's cool-down has passed become half-open (one probe may start). */
  private async halfOpen(now: number): Promise<void> {
    for (const c of this.controls.values()) {
      if (c.circuit !== 'open' || c.paused) continue;
      const breaker = this.breakers.get(parseRouteKey(c.routeKey).type);
      const cooldownMs = breaker?.cooldownMs ?? 0;
      if (c.circuitAt !== null && now - c.circuitAt < cooldownMs) continue;
      const moved = await this.opts.store.updateRouteCircuit({
        routeKey: c.routeKey,
        expect: { circuit: 'open', outcomesSeq: c.outcomesSeq },
        next: {
          circuit: 'half_open',
          circuitAt: now,
          probeTaskId: null,
          outcomes: c.outcomes,
          outcomesSeq: c.outcomesSeq,
        },
        event: { kind: 'circuit_half_open', data: { cooldownMs } },
        now,
      });
      if (moved) {
        this.opts.log.info({ route: c.routeKey }, 'circuit half-open: one probe task may start');
        this.controls.set(c.routeKey, { ...c, circuit: 'half_open', circuitAt: now, probeTaskId: null });
      }
    }
  }

  /** Rings for the route's `n` next due tasks, critical first then oldest, on the pool placement would choose. */
  private async ring(route: Route, n: number, now: number): Promise<number> {
    const { store } = this.opts;
    const rows = await store.listClaimable({ routes: [{ route, dueBefore: now }], limit: n });
    await this.dispatch(rows, now);
    return rows.length;
  }

  /** A route no longer controlled: its queued tasks, due or delayed, go out as any dispatch would. */
  private async release(route: Route): Promise<number> {
    const { store, dispatcher, clock } = this.opts;
    const pageSize = this.opts.pageSize ?? 500;
    let after: { notBefore: number; id: string } | undefined;
    let sent = 0;
    for (;;) {
      const now = clock.now();
      const rows = await store.listQueuedOnRoute({
        route,
        dueBefore: Number.MAX_SAFE_INTEGER,
        sentBefore: Number.MAX_SAFE_INTEGER,
        ...(after ? { after } : {}),
        limit: pageSize,
      });
      await dispatcher.send(rows, now);
      sent += rows.length;
      const last = rows[rows.length - 1];
      if (!last || rows.length < pageSize) return sent;
      after = { notBefore: last.notBefore, id: last.id };
    }
  }

  private async dispatch(rows: readonly DispatchRow[], now: number): Promise<void> {
    const { dispatcher, placement } = this.opts;
    await placement.prepare(rows.map((r) => ({ type: r.type, capabilities: r.requiredCapabilities })));
    const byQueue = new Map<string, DispatchRow[]>();
    for (const row of rows) {
      const route = { type: row.type, capabilities: row.requiredCapabilities };
      const queue = placement.placeOpen(route, true);
      if (queue === null) {
        // Only HTTP agents cover it: wake their long polls; they claim from SQL.
        notifyWork(dispatcher.redis, dispatcher.prefix, routeKey(row.type, row.requiredCapabilities));
        continue;
      }
      const list = byQueue.get(queue) ?? [];
      list.push(row);
      byQueue.set(queue, list);
    }
    await Promise.all([...byQueue].map(([queue, list]) => dispatcher.send(list, now, queue)));
  }
}
