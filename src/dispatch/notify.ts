/**
 * The doorbell of task changes: after a task transition is committed, its writer publishes the task id, so
 * every supervisor's event watcher (waits, streams) looks at SQL at once rather than at its next periodic read.
 * Best effort: a lost message only delays a watcher, so this never throws and is never awaited.
 */
import type { Redis } from 'ioredis';

export function notifyTaskChanged(redis: Redis, prefix: string, taskId: string): void {
  try {
    redis.publish(`${prefix}:taskfleet-events`, taskId).catch(() => undefined);
  } catch {
    // A closed connection throws synchronously: the periodic read covers it.
  }
}
