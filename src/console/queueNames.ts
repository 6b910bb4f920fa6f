import { isLive } from '../domain/agent';
import { routeKey } from '../domain/capabilities';
import { knownPools } from '../supervisor/poolFigures';
import type { StatsDeps } from '../supervisor/stats';

/**
 * Every BullMQ queue a doorbell may sit in (src/dispatch/placement.ts): each known pool's (learned from live
 * agents, or declared) and each route's parking queue, which holds what no pool covers.
 */
export async function fleetQueueNames(deps: StatsDeps): Promise<string[]> {
  const { store, clock, staleAfterMs } = deps;
  const now = clock.now();
  const [routes, agents, declared] = await Promise.all([
    store.listRoutes(),
    store.listAgents(),
    deps.declaredPools ? deps.declaredPools() : store.listDeclaredPools(),
  ]);
  const live = agents.filter((a) => isLive(a, now, staleAfterMs));
  const names = new Set(knownPools(live, declared).map((p) => p.key));
  for (const route of routes) names.add(routeKey(route.type, route.capabilities));
  return [...names];
}
