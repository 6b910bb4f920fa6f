/**
 * Keeps tasks moving between pools (placement: src/supervisor/poolPlacement.ts), from SQL, every few hundred ms:
 *
 * - Spill: a task that waited `spillAfterMs` in a pool with no free slot moves to the tightest covering pool that
 *   has one, so no task is parked behind a busy pool while another could run it. It asks SQL only when some pool
 *   has a free slot and another pool covering the same routes has jobs waiting, and then only for those routes,
 *   oldest first, as many as the free slots.
 * - A pool that appears (its first worker registered, or an operator declared it) takes at once the queued tasks
 *   of the routes that no known pool covered before: their doorbells sat in parking queues nobody consumes.
 * - A pool that vanishes (its last worker left, or moved to another pool when an admin disabled one of its
 *   types) leaves doorbells in a queue nobody consumes: the queued tasks of the routes it covered are placed
 *   again at once, rather than after the reconciler's grace.
 * - Parking queues of covered routes are removed (including the per-route queues of versions before pools): the
 *   reconciler re-sends from SQL whatever they held, since a doorbell there no longer counts as present.
 *
 * Moving a task rings its doorbell in the new pool's queue; the old one stays and is refused at its claim.
 * Several supervisors may move the same task: a claim is conditional on the attempt, so it still runs once.
 */
import type { Logger } from 'pino';
import { routeKey, type Route } from '../domain/capabilities';
import type { Clock } from '../domain/clock';
import { poolCovers, poolKey } from '../domain/pool';
import type { Dispatcher } from '../dispatch/dispatcher';
import { routeQueue } from '../dispatch/placement';
import type { DispatchRow, Store } from '../store/port';
import type { PoolLoad, PoolPlacement, PoolView } from './poolPlacement';

export interface RebalancerOptions {
  /** How long a due task waits in its pool before it may move to another. */
  spillAfterMs: number;
  /** How long the list of routes is kept before it is read again. */
  routesRefreshMs: number;
  /** Routes asked about per pass when spilling (the rest in the next passes, round robin). */
  maxRoutesPerPass?: number;
  /** Rows per query; a route that appeared is re-placed at most `maxPagesPerPass` pages per pass. */
  pageSize?: number;
  maxPagesPerPass?: number;
}

export interface RebalanceResult {
  /** Tasks moved to a pool with a free slot. */
  spilled: number;
  /** Tasks of newly covered routes placed on the pool that appeared. */
  placed: number;
}

interface Pending {
  route: Route;
  after?: { notBefore: number; id: string };
}

export class Rebalancer {
  private routes: { at: number; list: Route[] } | null = null;
  private readonly pending = new Map<string, Pending>();
  private cursor = 0;

  constructor(
    private readonly store: Store,
    private readonly dispatcher: Dispatcher,
    private readonly placement: PoolPlacement,
    private readonly opts: RebalancerOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  async pass(): Promise<RebalanceResult> {
    const view = await this.placement.refresh();
    const routes = await this.knownRoutes();
    this.notePoolsThatAppeared(view, routes);
    this.notePoolsThatVanished(routes);
    const placed = await this.placePending();
    const spilled = await this.spill(view, routes);
    if (placed > 0) this.log.info({ placed }, 'placed again the queued tasks of routes whose pools changed');
    if (spilled > 0) this.log.debug({ spilled }, 'moved waiting tasks to pools with free slots');
    return { spilled, placed };
  }

  /**
   * Removes the parking queue of every route a known pool covers, or HTTP agents do (their tasks need no
   * doorbell), unless it is also a pool's queue. Returns the queues removed. A queue with jobs being processed
   * (an old worker still consuming it) is left for later.
   */
  async pruneParkingQueues(): Promise<string[]> {
    const view = await this.placement.refresh();
    const pools = new Set(view.pools.map((p) => p.key));
    const covered = (await this.knownRoutes())
      .filter((r) => this.placement.order(r).length > 0 || this.placement.pullsOpen(r))
      .map(routeQueue)
      .filter((q) => !pools.has(q));
    if (covered.length === 0) return [];
    const { redis, prefix } = this.dispatcher;
    const exists = await Promise.all(covered.map((q) => redis.exists(`${prefix}:${q}:meta`)));
    const removed: string[] = [];
    for (const queue of covered.filter((_, i) => exists[i] === 1)) {
      try {
        await this.dispatcher.removeQueue(queue);
        removed.push(queue);
      } catch (err) {
        this.log.debug({ err, queue }, 'parking queue not removed yet');
      }
    }
    if (removed.length > 0) this.log.info({ queues: removed }, 'removed the parking queues of routes pools now cover');
    return removed;
  }

  private async knownRoutes(): Promise<Route[]> {
    const now = this.clock.now();
    if (!this.routes || now - this.routes.at > this.opts.routesRefreshMs) {
      this.routes = { at: now, list: await this.store.listRoutes() };
    }
    return this.routes.list;
  }

  /** Routes that only the pools that just appeared cover: their tasks were parked. */
  private notePoolsThatAppeared(view: PoolView, routes: readonly Route[]): void {
    const appeared = this.placement.takeAppeared();
    if (appeared.length === 0) return;
    const fresh = new Set(appeared.map(poolKey));
    const older = view.pools.filter((p) => !fresh.has(p.key));
    for (const route of routes) {
      const takers = appeared.filter((p) => poolCovers(p, route));
      if (takers.length === 0 || older.some((p) => poolCovers(p, route))) continue;
      // A pool of that route's type alone without capabilities consumes the parking queue itself (its key is the
      // route's key): the doorbells are already where its workers look.
      if (takers.some((p) => poolKey(p) === routeQueue(route))) continue;
      this.pending.set(routeKey(route.type, route.capabilities), { route });
    }
  }

  /** Routes a pool that vanished covered: their doorbells may sit in its queue, which nobody consumes now. */
  private notePoolsThatVanished(routes: readonly Route[]): void {
    const vanished = this.placement.takeVanished();
    if (vanished.length === 0) return;
    for (const route of routes) {
      if (vanished.some((p) => poolCovers(p, route))) {
        this.pending.set(routeKey(route.type, route.capabilities), { route });
      }
    }
  }

  private async placePending(): Promise<number> {
    const pageSize = this.opts.pageSize ?? 500;
    let budget = this.opts.maxPagesPerPass ?? 20;
    let placed = 0;
    for (const [key, job] of [...this.pending]) {
      for (;;) {
        if (budget-- <= 0) return placed;
        const now = this.clock.now();
        const rows = await this.store.listQueuedOnRoute({
          route: job.route,
          dueBefore: Number.MAX_SAFE_INTEGER,
          sentBefore: now,
          ...(job.after ? { after: job.after } : {}),
          limit: pageSize,
        });
        await this.resend(rows, now);
        placed += rows.length;
        const last = rows[rows.length - 1];
        if (!last || rows.length < pageSize) {
          this.pending.delete(key);
          break;
        }
        job.after = { notBefore: last.notBefore, id: last.id };
      }
    }
    return placed;
  }

  private async spill(view: PoolView, routes: readonly Route[]): Promise<number> {
    // A pool with jobs waiting has no free slot, whatever its count says: its workers would have fetched a job
    // they had room for, and a batch job counts once for all the tasks it carries.
    const open = (p: PoolLoad) => p.workers > 0 && p.free >= 1 && p.waiting === 0;
    if (!view.pools.some(open) || !view.pools.some((p) => p.waiting > 0)) return 0;
    const candidates = routes.filter((route) => {
      if (this.placement.held(route)) return false;
      const order = this.placement.order(route);
      return order.some((q) => open(q) && order.some((p) => p !== q && p.waiting > 0));
    });
    if (candidates.length === 0) return 0;
    const max = Math.min(candidates.length, this.opts.maxRoutesPerPass ?? 32);
    const start = this.cursor % candidates.length;
    this.cursor = start + max;
    let spilled = 0;
    for (let i = 0; i < max; i++) {
      const route = candidates[(start + i) % candidates.length]!;
      const target = this.placement.order(route).find(open);
      if (!target) continue;
      const now = this.clock.now();
      // By how long a task has been due, not since its last dispatch (the reconciler stamps that on every
      // check). A task moved here and not yet claimed may be moved again: its job id makes that a no-op.
      const rows = await this.store.listQueuedOnRoute({
        route,
        dueBefore: now - this.opts.spillAfterMs,
        sentBefore: now,
        limit: Math.min(Math.floor(target.free), this.opts.pageSize ?? 500),
      });
      if (rows.length > 0) await this.dispatcher.send(rows, now, target.key);
      target.free -= rows.length;
      spilled += rows.length;
    }
    return spilled;
  }

  private async resend(rows: readonly DispatchRow[], now: number, queue?: string): Promise<void> {
    if (rows.length === 0) return;
    await this.dispatcher.send(rows, now, queue);
    await this.store.markDispatched(
      rows.map((r) => r.id),
      now,
    );
  }
}
