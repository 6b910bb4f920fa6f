import { covers } from '../domain/capabilities';
import { isLive, type AgentRecord } from '../domain/agent';
import type { RouteState } from '../domain/routeControl';
import type { Clock } from '../domain/clock';
import { poolCovers, type DeclaredPool } from '../domain/pool';
import type { Store } from '../store/port';

/**
 * What routing sees: the live agents and the declared pools. A task is routable when some live agent has its
 * type's handler and all of its capabilities, or when a declared pool covers it (a pool scaled to zero: its
 * scaler starts a worker once it sees the backlog). Both lists are cached, so that listing tasks costs no
 * query most of the time: the agents briefly, the declarations for the route refresh interval (they change
 * rarely, and a declare or remove through this supervisor refreshes them at once).
 */
export class AgentDirectory {
  private cache: { at: number; agents: AgentRecord[] } | null = null;
  private declaredCache: { at: number; pools: Promise<DeclaredPool[]> } | null = null;
  /** A route's state as the supervisor's route gate last read it (every route active without a gate). */
  routeState: (routeKey: string) => RouteState = () => 'active';

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly staleAfterMs: number,
    private readonly cacheMs = 250,
    private readonly declaredRefreshMs = 1_000,
  ) {}

  async live(): Promise<AgentRecord[]> {
    const now = this.clock.now();
    if (!this.cache || now - this.cache.at > this.cacheMs) {
      this.cache = { at: now, agents: await this.store.listAgents() };
    }
    return this.cache.agents.filter((a) => isLive(a, now, this.staleAfterMs));
  }

  /** The declared pools; concurrent callers share one query. */
  async declared(): Promise<DeclaredPool[]> {
    const now = this.clock.now();
    if (!this.declaredCache || now - this.declaredCache.at > this.declaredRefreshMs) {
      const pools = this.store.listDeclaredPools();
      this.declaredCache = { at: now, pools };
      // A failed read is not kept: the next caller asks again.
      pools.catch(() => {
        if (this.declaredCache?.pools === pools) this.declaredCache = null;
      });
    }
    return this.declaredCache.pools;
  }

  /** The live agents and the declared pools, for `routable`. */
  async routing(): Promise<Routing> {
    const [live, declared] = await Promise.all([this.live(), this.declared()]);
    return { live, declared };
  }

  /** Forgets the cached declarations (after a declare or remove): the next read asks the store. */
  declaredChanged(): void {
    this.declaredCache = null;
  }

  static routable(task: { type: string; requiredCapabilities: string[] }, routing: Routing): boolean {
    return (
      routing.live.some((a) => a.types.includes(task.type) && covers(a.capabilities, task.requiredCapabilities)) ||
      routing.declared.some((p) => poolCovers(p, { type: task.type, capabilities: task.requiredCapabilities }))
    );
  }
}

export interface Routing {
  live: readonly AgentRecord[];
  declared: readonly DeclaredPool[];
}
