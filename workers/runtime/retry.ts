import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Retries a store call a few times with backoff. Only for writes that are safe to repeat: every
 * lease-bound write is conditional on the attempt, so a repeat after an unseen success is a no-op.
 */
export async function withRetries<T>(fn: () => Promise<T>, attempts = 4, baseMs = 100): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      await sleep(baseMs * 2 ** (i - 1));
    }
  }
}
