/**
 * `GET /v1/stats`: queue figures per route, figures per known pool (each route's backlog in its tightest
 * covering pool, as src/supervisor/poolFigures.ts says), registry figures, coordination figures over a recent
 * window. Each figure comes from an indexed query (routeStats, countTaskEvents) or the small agents table.
 * The coordination figures count the events of tasks still retained: exact while the window (at most a day) is
 * shorter than TASKFLEET_RETENTION_SUCCEEDED and _DEAD; `purged` (from `extra`) is what this supervisor deleted.
 */
import { AGENT_STATES, isLive, type AgentState } from '../domain/agent';
import { routeKey, type Route } from '../domain/capabilities';
import type { Clock } from '../domain/clock';
import type { DeclaredPool } from '../domain/pool';
import type { RouteStats, Store } from '../store/port';
import { AgentDirectory, type Routing } from './agentDirectory';
import { knownPools, poolFigures } from './poolFigures';
import type { RouteGate } from './routeGate';
import { controlView } from './routeViews';

export interface StatsDeps {
  store: Store;
  clock: Clock;
  staleAfterMs: number;
  /** The declared pools (the supervisor's cached list); read from the store when not given. */
  declaredPools?: () => Promise<DeclaredPool[]>;
  /** Extra figures to merge in (security counters, …). */
  extra?: () => Record<string, unknown>;
  /** The route controls as this supervisor's gate last read them (every route active without it). */
  gate?: Pick<RouteGate, 'control' | 'breakerOf' | 'all'>;
}

/** One route's queue figures, as `/v1/stats` and `/v1/routes` show them (zeros when `stats` is absent). */
export function routeFigures(
  route: Route,
  stats: RouteStats | undefined,
  now: number,
  routing: Routing,
  gate?: StatsDeps['gate'],
) {
  const key = routeKey(route.type, route.capabilities);
  return {
    route: key,
    type: route.type,
    capabilities: route.capabilities,
    queued: stats?.queued ?? 0,
    delayed: stats?.delayed ?? 0,
    running: stats?.running ?? 0,
    dead: stats?.dead ?? 0,
    oldestQueuedAgeMs: stats?.oldestQueuedAt == null ? null : Math.max(0, now - stats.oldestQueuedAt),
    routable: AgentDirectory.routable({ type: route.type, requiredCapabilities: route.capabilities }, routing),
    ...controlView(gate?.control(key), gate?.breakerOf(route.type)),
  };
}

/** How many routes are in each state, and how many have a limit: the controls at a glance. */
function routeControlCounts(gate: StatsDeps['gate']) {
  const counts = { paused: 0, circuitOpen: 0, halfOpen: 0, rateLimited: 0, capped: 0 };
  for (const c of gate?.all().values() ?? []) {
    if (c.paused) counts.paused++;
    else if (c.circuit === 'open') counts.circuitOpen++;
    else if (c.circuit === 'half_open') counts.halfOpen++;
    if (c.rateLimit !== null) counts.rateLimited++;
    if (c.concurrencyCap !== null) counts.capped++;
  }
  return counts;
}

const ratio = (part: number, whole: number) => (whole === 0 ? null : Math.round((part / whole) * 1000) / 1000);

export async function fleetStats(deps: StatsDeps, windowSeconds: number): Promise<Record<string, unknown>> {
  const { store, clock, staleAfterMs } = deps;
  const now = clock.now();
  const [routes, agents, declared, counts] = await Promise.all([
    store.routeStats(now),
    store.listAgents(),
    deps.declaredPools ? deps.declaredPools() : store.listDeclaredPools(),
    store.countTaskEvents(['submitted', 'succeeded', 'failed', 'dead'], now - windowSeconds * 1000),
  ]);
  const live = agents.filter((a) => isLive(a, now, staleAfterMs));
  const byState = Object.fromEntries(AGENT_STATES.map((s) => [s, 0])) as Record<AgentState, number>;
  for (const a of agents) byState[a.state]++;
  const capacity = live.reduce((n, a) => n + a.concurrency, 0);
  const used = live.reduce((n, a) => n + a.runningTasks, 0);
  const completed = counts.succeeded ?? 0;
  const failed = counts.failed ?? 0;
  const perMinute = (n: number) => Math.round((n / windowSeconds) * 60 * 10) / 10;
  return {
    at: new Date(now).toISOString(),
    queues: routes.map((r) => routeFigures(r, r, now, { live, declared }, deps.gate)),
    routes: routeControlCounts(deps.gate),
    pools: poolFigures(knownPools(live, declared), routes).map((p) => ({
      key: p.key,
      capabilities: p.capabilities,
      types: p.types,
      declared: p.declared !== null,
      workers: p.workers,
      slots: p.slots,
      running: p.running,
      freeSlots: p.freeSlots,
      backlog: p.backlog,
    })),
    registry: {
      agents: agents.length,
      live: live.length,
      byState,
      capacity,
      used,
      utilisation: ratio(used, capacity),
    },
    coordination: {
      windowSeconds,
      submitted: counts.submitted ?? 0,
      completed,
      failed,
      dead: counts.dead ?? 0,
      submittedPerMinute: perMinute(counts.submitted ?? 0),
      completedPerMinute: perMinute(completed),
      failedPerMinute: perMinute(failed),
      completionRate: ratio(completed, completed + failed),
      errorRate: ratio(failed, completed + failed),
    },
    ...(deps.extra ? deps.extra() : {}),
  };
}
