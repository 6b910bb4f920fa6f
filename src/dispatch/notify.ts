/**
 * The doorbell of task changes: after a task transition is committed, its writer publishes the task's id on
 * `<prefix>:taskfleet-events`, and each supervisor's TaskWatcher reads the event log at once rather than at its
 * next periodic read. SQL stays the truth: a lost message (Redis down, a subscriber reconnecting) only delays.
 */
import type { Redis } from 'ioredis';

export function taskEventsChannel(prefix: string): string {
  return `${prefix}:taskfleet-events`;
}

/** Best effort: never throws and need not be awaited; a failed publish is left to the watchers' periodic read. */
export function notifyTaskChanged(redis: Redis, prefix: string, taskId: string): void {
  try {
    redis.publish(taskEventsChannel(prefix), taskId).catch(() => undefined);
  } catch {
    // a connection already closed throws synchronously on some ioredis paths
  }
}
