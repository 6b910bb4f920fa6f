/**
 * The figures of each known pool (learned from the live agents, or declared), shared by `GET /v1/pools`,
 * `GET /v1/scaling/pool`, `GET /v1/stats` and the metrics so that they never disagree.
 *
 * A route's backlog counts toward one pool only: the tightest known pool that covers it, where the dispatcher
 * places its tasks first (`attributeRoutes`). Counting it in every covering pool would let the scaler of a
 * scarce pool (gpu) add workers for generic work a narrower pool takes. Running and free slots are those of the
 * pool's own live agents (their heartbeats), whatever routes their tasks came from.
 */
import { routeKey } from '../domain/capabilities';
import {
  attributeRoutes,
  learnPools,
  poolKey,
  type DeclaredPool,
  type LearnedPool,
  type PoolSignature,
} from '../domain/pool';
import type { RouteStats } from '../store/port';

export interface KnownPool extends PoolSignature {
  key: string;
  declared: DeclaredPool | null;
  learned: LearnedPool | null;
}

export interface PoolFigures extends KnownPool {
  workers: number;
  slots: number;
  running: number;
  freeSlots: number;
  /** Due queued tasks of the routes attributed to the pool. */
  backlog: number;
  delayed: number;
  /** The keys of the routes attributed to the pool. */
  routes: string[];
}

/** The learned pools of these live agents merged with the declared pools, sorted by key. */
export function knownPools(live: Parameters<typeof learnPools>[0], declared: readonly DeclaredPool[]): KnownPool[] {
  const rows = new Map<string, KnownPool>();
  for (const learned of learnPools(live)) rows.set(learned.key, { ...signatureOf(learned), learned, declared: null });
  for (const pool of declared) {
    const row = rows.get(pool.key);
    if (row) row.declared = pool;
    else rows.set(pool.key, { ...signatureOf(pool), declared: pool, learned: null });
  }
  return [...rows.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * The figures of each pool of `pools`, each route attributed among `pools` plus `extra` (signatures that
 * compete for routes without being listed: the pool a scaler asks about when it is not known).
 */
export function poolFigures(
  pools: readonly KnownPool[],
  routes: readonly RouteStats[],
  extra: readonly PoolSignature[] = [],
): PoolFigures[] {
  const attributed = attributeRoutes(routes, [...pools, ...extra]);
  return pools.map((p) => {
    const mine = attributed.get(p.key) ?? [];
    const sum = (k: 'queued' | 'delayed') => mine.reduce((n, r) => n + r[k], 0);
    const slots = p.learned?.slots ?? 0;
    const running = p.learned?.running ?? 0;
    return {
      ...p,
      workers: p.learned?.agents.length ?? 0,
      slots,
      running,
      freeSlots: Math.max(0, slots - running),
      backlog: sum('queued'),
      delayed: sum('delayed'),
      routes: mine.map((r) => routeKey(r.type, r.capabilities)),
    };
  });
}

/** The figures of one signature, known or not: an unknown one competes with the known pools for its routes. */
export function figuresOf(sig: PoolSignature, pools: readonly KnownPool[], routes: readonly RouteStats[]): PoolFigures {
  const key = poolKey(sig);
  const pool = pools.find((p) => p.key === key) ?? { ...sig, key, declared: null, learned: null };
  return poolFigures([pool], routes, pools)[0]!;
}

function signatureOf(p: PoolSignature & { key: string }): PoolSignature & { key: string } {
  return { key: p.key, capabilities: p.capabilities, types: p.types };
}
