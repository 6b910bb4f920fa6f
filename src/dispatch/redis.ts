/**
 * Redis connections. Producers fail fast (no offline queue) so an API call never hangs on a dead Redis:
 * the task is already durable in SQL and the reconciler re-sends it. Consumers (BullMQ workers) retry
 * forever (`maxRetriesPerRequest: null`, as BullMQ requires) and reconnect by themselves. Every connection has
 * deadlines, so one that goes silent is noticed and replaced (redisWatch.ts).
 */
import { Redis, type RedisOptions } from 'ioredis';
import { withTimeout } from '../domain/timeout';
import { blockingDuplicates, deadlineOptions, unwatched, watchCommands, type RedisWatch } from './redisWatch';

const common: RedisOptions = {
  lazyConnect: false,
  // Reconnect quickly but not in a hot loop: 50 ms, 100 ms, … up to 1 s.
  retryStrategy: (times) => Math.min(1_000, times * 50),
};

export function createProducerConnection(url: string, name: string, watch: RedisWatch = unwatched): Redis {
  const redis = new Redis(url, {
    ...common,
    ...deadlineOptions(watch),
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  watchCommands(redis, name, watch);
  return redis;
}

/** A consumer's command connection, and the blocking connections BullMQ duplicates from it (`blocking`). */
export interface ConsumerConnection {
  redis: Redis;
  blocking: ReadonlySet<Redis>;
}

export function createConsumerConnection(url: string, name: string, watch: RedisWatch = unwatched): ConsumerConnection {
  const redis = new Redis(url, {
    ...common,
    ...deadlineOptions(watch),
    connectionName: name,
    maxRetriesPerRequest: null,
  });
  const blocking = blockingDuplicates(redis, name, watch);
  watchCommands(redis, name, watch, blocking);
  return { redis, blocking };
}

/** Resolves once the connection is ready, or rejects after `timeoutMs` with a message naming the URL. */
export async function waitUntilReady(redis: Redis, url: string, timeoutMs = 5_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis at ${redactUrl(url)} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

/** Closes a connection without waiting on a dead server. */
export async function closeConnection(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  try {
    await withTimeout(redis.quit(), 500, 'Redis QUIT');
  } catch {
    // already closing or never connected
  }
  redis.disconnect();
}

/** Calls `each` with every batch of keys under `prefix:`, by SCAN, so a large Redis is never blocked. */
export async function scanKeys(
  redis: Redis,
  prefix: string,
  each: (keys: string[]) => Promise<unknown>,
): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await each(keys);
  } while (cursor !== '0');
}

/**
 * Deletes every key under `prefix:` on the Redis at `url`: what a benchmark or a test fleet leaves behind on a
 * shared Redis. A Redis that is gone already has nothing left to delete.
 */
export async function deleteKeysUnder(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await scanKeys(redis, prefix, (keys) => redis.del(...keys));
  } catch {
    // unreachable: nothing to clean
  } finally {
    redis.disconnect();
  }
}
