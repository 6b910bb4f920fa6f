/**
 * The doorbell of task changes: after a task transition is committed, its writer publishes the task's id on
 * `<prefix>:taskfleet-events`, and each supervisor's TaskWatcher reads the event log at once rather than at its
 * next periodic read. SQL stays the truth: a lost message (Redis down, a subscriber reconnecting) only delays.
 */
import type { Redis } from 'ioredis';

export function taskEventsChannel(prefix: string): string {
  return `${prefix}:taskfleet-events`;
}

/**
 * The doorbell of work for HTTP agents: the route keys of tasks that became due are published on
 * `<prefix>:taskfleet-work`, and each supervisor wakes the claims waiting on those routes
 * (src/supervisor/claimWaiters.ts). A lost message only delays: waiting claims also look every poll interval.
 */
export function workChannel(prefix: string): string {
  return `${prefix}:taskfleet-work`;
}

/** Best effort, batched per turn of the event loop as notifyTaskChanged; `routeKey` as routeKey() makes it. */
export function notifyWork(redis: Redis, prefix: string, routeKey: string): void {
  ring(redis, workChannel(prefix), routeKey);
}

/** The ids rung in this turn of the event loop, per connection and channel: sent as one message. */
const pending = new Map<Redis, Map<string, Set<string>>>();

/**
 * Best effort: never throws and need not be awaited; a failed publish is left to the watchers' periodic read.
 * The ids rung in one turn of the event loop travel in one message (`id,id,…`): under load a worker finishes
 * many tasks a turn, and each message costs Redis and every supervisor a delivery.
 */
export function notifyTaskChanged(redis: Redis, prefix: string, taskId: string): void {
  ring(redis, taskEventsChannel(prefix), taskId);
}

function ring(redis: Redis, channel: string, id: string): void {
  let byChannel = pending.get(redis);
  if (!byChannel) {
    byChannel = new Map();
    pending.set(redis, byChannel);
    setImmediate(() => flush(redis));
  }
  const ids = byChannel.get(channel) ?? new Set<string>();
  ids.add(id);
  byChannel.set(channel, ids);
}

function flush(redis: Redis): void {
  const byChannel = pending.get(redis);
  pending.delete(redis);
  for (const [channel, ids] of byChannel ?? []) {
    try {
      redis.publish(channel, [...ids].join(',')).catch(() => undefined);
    } catch {
      // a connection already closed throws synchronously on some ioredis paths
    }
  }
}

/** The task ids (or route keys) of one doorbell message. Neither holds a comma (route keys use `+` and `~`). */
export function rungTaskIds(message: string): string[] {
  return message.split(',').filter((id) => id.length > 0);
}
