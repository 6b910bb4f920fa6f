/**
 * Pools declared by configuration (TASKFLEET_POOLS): the supervisor declares them at start and removes the pools
 * an earlier configuration declared that are no longer listed. Pools an operator declared are never touched.
 * Several supervisors may start at once: declaring is idempotent and removing a removed pool is a no-op.
 */
import type { Logger } from 'pino';
import type { Clock } from '../domain/clock';
import { parsePoolKey } from '../domain/pool';
import type { Store } from '../store/port';

/** The `declaredBy` of a pool declared by configuration. */
export const CONFIG_DECLARER = 'config';
export const CONFIG_NOTE = 'declared by TASKFLEET_POOLS';

export interface ConfiguredPoolChanges {
  declared: string[];
  removed: string[];
}

export async function applyConfiguredPools(
  store: Store,
  keys: readonly string[],
  clock: Clock,
  log: Logger,
): Promise<ConfiguredPoolChanges> {
  const declared: string[] = [];
  for (const key of keys) {
    const { created } = await store.declarePool({
      ...parsePoolKey(key),
      key,
      note: CONFIG_NOTE,
      declaredBy: CONFIG_DECLARER,
      declaredAt: clock.now(),
    });
    if (created) declared.push(key);
  }
  const wanted = new Set(keys);
  const removed: string[] = [];
  for (const pool of await store.listDeclaredPools()) {
    if (pool.declaredBy !== CONFIG_DECLARER || wanted.has(pool.key)) continue;
    if (await store.removeDeclaredPool(pool.key)) removed.push(pool.key);
  }
  log.info({ configured: keys, declared, removed }, 'configured pools applied (TASKFLEET_POOLS)');
  return { declared, removed };
}
