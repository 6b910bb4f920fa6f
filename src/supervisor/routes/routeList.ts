/**
 * `GET /v1/routes`: every route a task was ever submitted on (a type and a capability set), with its queue
 * figures, whether a live agent or declared pool covers it, and the pool its tasks are placed on first (its
 * tightest known pool, as the figures attribute its backlog). Sorted by route key and paged by it.
 *
 * Each route shows its control too (state, settings, circuit), as this supervisor's route gate last read it.
 * With `series=N`, each route of the page also has its counts per minute over the last N minutes (routeSeries.ts),
 * read for the whole page at once.
 */
import { Router } from 'express';
import { z } from 'zod';
import { routeKey } from '../../domain/capabilities';
import { placementOrder, poolKey } from '../../domain/pool';
import { isLive } from '../../domain/agent';
import { knownPools } from '../poolFigures';
import { routeFigures, type StatsDeps } from '../stats';
import { routeSeries } from '../routeSeries';
import { parseOrThrow } from '../validation';

/** The longest window `series` may ask for: three hours of minutes. */
export const MAX_SERIES_MINUTES = 180;

export const routeListQuery = z.strictObject({
  type: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
  /** The last route key of the page before. */
  cursor: z.string().min(1).max(2200).optional(),
  /** Each route's succeeded, failed, dead, cancelled and expired tasks per minute over the last this many minutes. */
  series: z.coerce.number().int().min(1).max(MAX_SERIES_MINUTES).optional(),
});

export function routeListRoutes(deps: StatsDeps): Router {
  const r = Router();
  r.get('/routes', async (req, res) => {
    const q = parseOrThrow(routeListQuery, req.query);
    const { store, clock, staleAfterMs } = deps;
    const now = clock.now();
    const [all, stats, agents, declared] = await Promise.all([
      store.listRoutes(),
      store.routeStats(now),
      store.listAgents(),
      deps.declaredPools ? deps.declaredPools() : store.listDeclaredPools(),
    ]);
    const live = agents.filter((a) => isLive(a, now, staleAfterMs));
    const pools = knownPools(live, declared);
    const figures = new Map(stats.map((s) => [routeKey(s.type, s.capabilities), s]));
    const keyed = all
      .map((route) => ({ route, key: routeKey(route.type, route.capabilities) }))
      .filter((x) => (q.type === undefined || x.route.type === q.type) && (q.cursor === undefined || x.key > q.cursor))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const page = keyed.slice(0, q.limit);
    const series =
      q.series === undefined
        ? null
        : await routeSeries(
            store,
            page.map((x) => x.key),
            q.series,
            now,
          );
    const routes = page.map(({ route, key }) => {
      const tightest = placementOrder(pools, route)[0];
      return {
        ...routeFigures(route, figures.get(key), now, { live, declared }, deps.gate),
        pool: tightest ? poolKey(tightest) : null,
        ...(series ? { series: series.get(key) } : {}),
      };
    });
    const nextCursor = keyed.length > q.limit ? page[page.length - 1]?.key : undefined;
    res.json({ routes, nextCursor });
  });
  return r;
}
