/**
 * Pools declared by configuration (TASKFLEET_POOLS): the supervisor declares them at start and removes the pools
 * an earlier configuration declared that are no longer listed. Pools an operator declared are never touched.
 * Several supervisors may start at once: declaring is idempotent and removing a removed pool is a no-op.
 */
import type { Logger } from 'pino';
import type { Clock } from '../domain/clock';
import { parsePoolKey, type DeclaredPool } from '../domain/pool';
import type { Store } from '../store/port';

/** The `declaredBy` of a pool declared by configuration. */
export const CONFIG_DECLARER = 'config';
export const CONFIG_NOTE = 'declared by TASKFLEET_POOLS';

/** Whether configuration declared this pool (rather than an admin, whatever the name of their key). */
export function isConfigured(pool: Pick<DeclaredPool, 'declaredBy' | 'note'>): boolean {
  return pool.declaredBy === CONFIG_DECLARER && pool.note === CONFIG_NOTE;
}

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
    // The note too: an API key may be named "config", and its declarations are an admin's.
    if (!isConfigured(pool) || wanted.has(pool.key)) continue;
    if (await store.removeDeclaredPool(pool.key)) removed.push(pool.key);
  }
  log.info({ configured: keys, declared, removed }, 'configured pools applied (TASKFLEET_POOLS)');
  return { declared, removed };
}
