/**
 * The supervisor's placement (src/dispatch/placement.ts): each task goes to the tightest pool that covers its
 * route (src/domain/pool.ts `placementOrder`) with a free slot, else to the tightest covering pool; a route no
 * known pool covers is parked. Known pools are the live agents' signatures and the declared pools, so a pool
 * scaled to zero still receives its tasks, and its scaler sees them.
 *
 * Placement is on the hot path, so it reads a view of the pools refreshed every `refreshMs` in the background,
 * never per task: slots from the registry (live agents' concurrency, kept by heartbeats), load from each pool's
 * queue in Redis (jobs fetched and jobs waiting), and, between refreshes, what this supervisor placed itself.
 * Its own placements fill a pool's free slots before the next refresh can see them end, so when a task's tightest
 * pool looks full by that count alone and a wider pool would get the task, the load is read again first (one
 * Redis round trip, at most every RECOUNT_MS). With several supervisors each counts only its own placements,
 * so placement may be imperfect, never wrong: any covering pool can run the task, and the rebalancer
 * (rebalancer.ts) moves tasks that wait behind a busy pool to one with a free slot.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { routeKey, type Route } from '../domain/capabilities';
import type { Clock } from '../domain/clock';
import { learnPools, placementOrder, poolCovers, poolKey, type PoolSignature } from '../domain/pool';
import { routeQueue, type Placement } from '../dispatch/placement';
import type { AgentDirectory } from './agentDirectory';
import { knownPools } from './poolFigures';

/** A known pool as placement sees it. */
export interface PoolLoad extends PoolSignature {
  key: string;
  /** Live workers in the pool (0 for a declared pool scaled to zero). */
  workers: number;
  slots: number;
  /** Jobs waiting in the pool's queue at the last refresh (not yet fetched by a worker). */
  waiting: number;
  /** Free slots: at the refresh, less what was placed on the pool since. May go below 0. */
  free: number;
}

export interface PoolView {
  at: number;
  /** The pools whose workers consume a queue (Node workers), and the declared pools. */
  pools: PoolLoad[];
  /** The pools of live HTTP agents, which consume no queue: the supervisor claims for them from SQL. */
  pulling: Array<PoolSignature & { key: string }>;
  /** Memoised placement order per route key. */
  orders: Map<string, PoolLoad[]>;
  /** Memoised `pulls` per route key. */
  pulled: Map<string, boolean>;
}

export interface PoolPlacementOptions {
  directory: Pick<AgentDirectory, 'live' | 'declared'>;
  redis: Redis;
  prefix: string;
  clock: Clock;
  /** How old a view may be before the next placement asks for a new one. */
  refreshMs: number;
  log: Logger;
}

/** The least time between two reads of the pools' load on behalf of placements. */
const RECOUNT_MS = 5;
/** A view older than this many refresh intervals is read again before a placement uses it. */
const STALE_VIEWS = 4;

export class PoolPlacement implements Placement {
  private current: PoolView | null = null;
  private refreshing: Promise<PoolView> | null = null;
  private recounting: Promise<void> | null = null;
  private countedAt = 0;
  /** Pools that became known since the last `takeAppeared`. */
  private appeared = new Map<string, PoolSignature>();
  /** Pools no longer known (their last worker left or moved to another pool) since the last `takeVanished`. */
  private vanished = new Map<string, PoolSignature>();

  constructor(private readonly opts: PoolPlacementOptions) {}

  get view(): PoolView | null {
    return this.current;
  }

  /**
   * Routes whose doorbells come from the route gate only (src/supervisor/routeGate.ts): placement answers null for
   * them, and the reconciler and rebalancer leave them alone.
   */
  holds: (routeKey: string) => boolean = () => false;
  /** Routes that start nothing now (paused, circuit open): HTTP agents' claims skip them. */
  shuts: (routeKey: string) => boolean = () => false;

  shut(route: Route): boolean {
    return this.shuts(routeKey(route.type, route.capabilities));
  }

  place(route: Route, counted: boolean): string | null {
    if (this.held(route)) return null;
    return this.placeOpen(route, counted);
  }

  /** `place` for a task the route gate admitted. */
  placeOpen(route: Route, counted: boolean): string | null {
    const order = this.order(route);
    if (order.length === 0) return this.pullsOpen(route) ? null : routeQueue(route);
    const pool = (counted ? order.find((p) => p.free >= 1) : undefined) ?? order[0]!;
    if (counted) pool.free -= 1;
    return pool.key;
  }

  queuesFor(route: Route): readonly string[] {
    if (this.held(route)) return [];
    const order = this.order(route);
    if (order.length > 0) return order.map((p) => p.key);
    return this.pulls(route) ? [] : [routeQueue(route)];
  }

  pulls(route: Route): boolean {
    if (this.held(route)) return false;
    return this.pullsOpen(route);
  }

  /** Whether HTTP agents cover the route, held or not. */
  pullsOpen(route: Route): boolean {
    const view = this.current;
    if (!view || view.pulling.length === 0) return false;
    const key = routeKey(route.type, route.capabilities);
    let pulled = view.pulled.get(key);
    if (pulled === undefined) {
      pulled = view.pulling.some((p) => poolCovers(p, route));
      view.pulled.set(key, pulled);
    }
    return pulled;
  }

  /** Whether the route gate holds the route. */
  held(route: Route): boolean {
    return this.holds(routeKey(route.type, route.capabilities));
  }

  /** The known pools that cover `route`, tightest first (empty before the first view, or when none does). */
  order(route: Route): PoolLoad[] {
    const view = this.current;
    if (!view) return [];
    const key = routeKey(route.type, route.capabilities);
    let order = view.orders.get(key);
    if (!order) {
      order = placementOrder(view.pools, route);
      view.orders.set(key, order);
    }
    return order;
  }

  /** Before placing tasks of `routes`: a view of the pools, and a fresh count where it decides between pools. */
  async prepare(routes: readonly Route[] = []): Promise<void> {
    const now = this.opts.clock.now();
    const refresh = () =>
      this.refresh().catch((err: unknown) => {
        this.opts.log.warn({ err }, 'placement could not read the pools; using the last view');
        return null;
      });
    // A placement waits for the view when there is none, or when nobody kept it fresh (a supervisor without
    // loops, after a quiet spell); otherwise it uses the last view while the next one is read.
    const age = this.current ? now - this.current.at : Infinity;
    if (age > STALE_VIEWS * this.opts.refreshMs) {
      await refresh();
      return;
    }
    if (age > this.opts.refreshMs) void refresh();
    if (now - this.countedAt >= RECOUNT_MS && routes.some((r) => this.contended(r))) {
      await this.recount().catch((err: unknown) => this.opts.log.debug({ err }, 'placement could not recount'));
    }
  }

  /** Whether the route has a choice of pools and its tightest one looks full by this supervisor's count. */
  private contended(route: Route): boolean {
    const order = this.order(route);
    return order.length > 1 && order[0]!.free < 1;
  }

  private recount(): Promise<void> {
    const view = this.current;
    if (!view) return Promise.resolve();
    this.recounting ??= this.readLoad(view.pools).finally(() => {
      this.recounting = null;
    });
    return this.recounting;
  }

  /** Reads the pools and their load now (concurrent callers share one read). */
  refresh(): Promise<PoolView> {
    this.refreshing ??= this.read().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** The pools that became known (a first worker registered, or a declaration) since the last call. */
  takeAppeared(): PoolSignature[] {
    const pools = [...this.appeared.values()];
    this.appeared = new Map();
    return pools;
  }

  /** The pools that stopped being known (no live worker, not declared) since the last call. */
  takeVanished(): PoolSignature[] {
    const pools = [...this.vanished.values()];
    this.vanished = new Map();
    return pools;
  }

  private async read(): Promise<PoolView> {
    const { directory, clock } = this.opts;
    const at = clock.now();
    const [live, declared] = await Promise.all([directory.live(), directory.declared()]);
    const pulling = learnPools(live.filter((a) => a.transport === 'http')).map(signatureOf);
    // The same known pools the figures show (poolFigures.ts), each with its slots; the load is read next.
    const consuming = live.filter((a) => a.transport !== 'http');
    const list: PoolLoad[] = knownPools(consuming, declared).map((p) => ({
      capabilities: p.capabilities,
      types: p.types,
      key: p.key,
      workers: p.learned?.agents.length ?? 0,
      slots: p.learned?.slots ?? 0,
      waiting: 0,
      free: 0,
    }));
    await this.readLoad(list);
    const previous = this.current;
    if (previous) {
      const before = new Set(previous.pools.map((p) => p.key));
      for (const p of list)
        if (!before.has(p.key)) this.appeared.set(p.key, { capabilities: p.capabilities, types: p.types });
      const now = new Set(list.map((p) => p.key));
      for (const p of previous.pools)
        if (!now.has(p.key)) this.vanished.set(p.key, { capabilities: p.capabilities, types: p.types });
    }
    this.current = { at, pools: list, pulling, orders: new Map(), pulled: new Map() };
    return this.current;
  }

  /** Each pool's queue in Redis: jobs fetched (active) and waiting; the free slots follow. */
  private async readLoad(pools: PoolLoad[]): Promise<void> {
    const { redis, prefix } = this.opts;
    if (pools.length === 0) return;
    const at = this.opts.clock.now();
    const pipeline = redis.pipeline();
    for (const p of pools) {
      pipeline.llen(`${prefix}:${p.key}:active`);
      pipeline.zcard(`${prefix}:${p.key}:prioritized`);
      pipeline.llen(`${prefix}:${p.key}:wait`);
    }
    const replies = (await pipeline.exec()) ?? [];
    const count = (i: number): number => {
      const [err, n] = replies[i] ?? [new Error('no reply'), 0];
      if (err) throw err;
      return Number(n);
    };
    pools.forEach((p, i) => {
      const active = count(i * 3);
      p.waiting = count(i * 3 + 1) + count(i * 3 + 2);
      p.free = Math.max(0, p.slots - active - p.waiting);
    });
    this.countedAt = at;
  }
}

function signatureOf<P extends PoolSignature>(p: P): PoolSignature & { key: string } {
  return { capabilities: p.capabilities, types: p.types, key: poolKey(p) };
}
