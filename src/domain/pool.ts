/**
 * Pools: what a class of interchangeable workers offers. A pool's signature is its capability set and its
 * handler types; every worker with the same signature belongs to the same pool. A route (type + capability
 * set) is what a task needs, and a pool covers it when it has the type and every capability.
 *
 * Pools are learned (the signatures of the live agents) or declared by an operator (stored, so a pool scaled
 * to zero is still known). `placementOrder` is the order pools are tried in: the tightest covering pool first,
 * so scarce workers are not filled with generic work; `attributeRoutes` counts each route's backlog toward
 * that first pool only, so the figures scalers read agree with where tasks are placed.
 */
import { normaliseCapabilities, workerServesRoute, type Route } from './capabilities';
import { ValidationError, type FieldIssue } from './errors';

export interface PoolSignature {
  /** Sorted, deduplicated tokens. */
  capabilities: string[];
  /** Sorted, deduplicated handler types (at least one). */
  types: string[];
}

/** A pool's signature from raw lists; throws a ValidationError naming `capabilities[i]` / `types[i]`. */
export function poolSignature(input: { capabilities: readonly string[]; types: readonly string[] }): PoolSignature {
  const issues: FieldIssue[] = [];
  const normalise = (list: readonly string[], field: string): string[] => {
    try {
      return normaliseCapabilities(list, field);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      issues.push(...err.issues);
      return [];
    }
  };
  const capabilities = normalise(input.capabilities, 'capabilities');
  const types = normalise(input.types, 'types');
  if (input.types.length === 0) issues.push({ field: 'types', message: 'name at least one task type' });
  if (issues.length === 0 && poolKey({ capabilities, types }).length > MAX_POOL_KEY_LENGTH) {
    issues.push({
      field: 'types',
      message: `the pool key (types~capabilities) is over ${MAX_POOL_KEY_LENGTH} characters`,
    });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return { capabilities, types };
}

/**
 * The pool's key: `<type>+<type>~<cap>+<cap>`, the form of `routeKey` (a route is the key of a pool of one
 * type). Tokens never contain `~` or `+`, so it is unambiguous, and every character is URL-safe.
 */
export function poolKey(sig: PoolSignature): string {
  return `${sig.types.join('+')}~${sig.capabilities.join('+')}`;
}

/** The signature a key names; throws a ValidationError (field `key`) for anything `poolKey` cannot produce. */
export function parsePoolKey(key: string): PoolSignature {
  const sep = key.indexOf('~');
  const bad = () => new ValidationError([{ field: 'key', message: `"${key}" is not a pool key (types~capabilities)` }]);
  if (sep < 0) throw bad();
  const split = (s: string) => (s === '' ? [] : s.split('+'));
  let sig: PoolSignature;
  try {
    sig = poolSignature({ types: split(key.slice(0, sep)), capabilities: split(key.slice(sep + 1)) });
  } catch {
    throw bad();
  }
  if (poolKey(sig) !== key) throw bad();
  return sig;
}

export function sameSignature(a: PoolSignature, b: PoolSignature): boolean {
  return poolKey(a) === poolKey(b);
}

/** Whether the workers of this pool can run the route's tasks. */
export function poolCovers(pool: PoolSignature, route: Route): boolean {
  return workerServesRoute(pool, route);
}

/** What a pool offers beyond what the route needs: the tightness measure of placement. */
export function excess(pool: PoolSignature, route: Route): { capabilities: number; types: number } {
  return { capabilities: pool.capabilities.length - route.capabilities.length, types: pool.types.length - 1 };
}

/**
 * The pools that cover the route, tightest first: fewest capabilities and types beyond the need; on a tie,
 * fewer extra capabilities (capabilities mark scarce hardware, types are cheap), then by key.
 */
export function placementOrder<P extends PoolSignature>(pools: readonly P[], route: Route): P[] {
  const scored = pools.filter((p) => poolCovers(p, route)).map((p) => ({ p, e: excess(p, route), key: poolKey(p) }));
  scored.sort(
    (a, b) =>
      a.e.capabilities + a.e.types - (b.e.capabilities + b.e.types) ||
      a.e.capabilities - b.e.capabilities ||
      (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  );
  return scored.map((s) => s.p);
}

/**
 * Each route under the one pool that stands for its backlog: the tightest of `pools` that covers it
 * (`placementOrder`'s first), so a scarce pool's scaler is not woken by work a narrower pool takes. A route no
 * pool covers is under none. Maps pool key → routes, in the order given; a pool that attracts none is absent.
 */
export function attributeRoutes<R extends Route>(
  routes: readonly R[],
  pools: readonly PoolSignature[],
): Map<string, R[]> {
  const byPool = new Map<string, R[]>();
  for (const route of routes) {
    const tightest = placementOrder(pools, route)[0];
    if (!tightest) continue;
    const key = poolKey(tightest);
    const list = byPool.get(key);
    if (list) list.push(route);
    else byPool.set(key, [route]);
  }
  return byPool;
}

/** The longest pool key the stores keep (the T-SQL key column is varchar(900), an index key's limit). */
export const MAX_POOL_KEY_LENGTH = 900;

/** A pool an operator declared: known (and routable) while none of its workers run. */
export interface DeclaredPool extends PoolSignature {
  key: string;
  /** Why the pool exists, for the operators who read the list; null when not given. */
  note: string | null;
  /** The name of the API key (or `cli:<user>`) that declared it. */
  declaredBy: string;
  declaredAt: number;
}

/** A learned pool: the live agents that share one signature, and their capacity. */
export interface LearnedPool extends PoolSignature {
  key: string;
  agents: string[];
  slots: number;
  running: number;
}

/** Groups live agents by signature (an agent's lists are stored normalised; `types` are the served ones). Sorted by key. */
export function learnPools(
  agents: ReadonlyArray<{
    id: string;
    capabilities: string[];
    types: string[];
    concurrency: number;
    runningTasks: number;
  }>,
): LearnedPool[] {
  const pools = new Map<string, LearnedPool>();
  for (const a of agents) {
    // An agent whose every type an admin disabled serves no pool (the API refuses that; a re-registration with
    // fewer types can still lead there).
    if (a.types.length === 0) continue;
    const sig = { capabilities: [...new Set(a.capabilities)].sort(), types: [...new Set(a.types)].sort() };
    const key = poolKey(sig);
    const pool = pools.get(key) ?? { ...sig, key, agents: [], slots: 0, running: 0 };
    pool.agents.push(a.id);
    pool.slots += a.concurrency;
    pool.running += a.runningTasks;
    pools.set(key, pool);
  }
  return [...pools.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
