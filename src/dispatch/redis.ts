/**
 * Redis connections. Producers fail fast (no offline queue) so an API call never hangs on a dead Redis:
 * the task is already durable in SQL and the reconciler re-sends it. Consumers (BullMQ workers) retry
 * forever (`maxRetriesPerRequest: null`, as BullMQ requires) and reconnect by themselves.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { withTimeout } from '../domain/timeout';

const common: RedisOptions = {
  lazyConnect: false,
  // Reconnect quickly but not in a hot loop: 50 ms, 100 ms, … up to 1 s.
  retryStrategy: (times) => Math.min(1_000, times * 50),
};

export function createProducerConnection(url: string, name: string): Redis {
  return new Redis(url, { ...common, connectionName: name, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
}

export function createConsumerConnection(url: string, name: string): Redis {
  return new Redis(url, { ...common, connectionName: name, maxRetriesPerRequest: null });
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
