/**
 * The retention part of the store port (src/store/port.ts `Store` extends it): each method deletes one batch of
 * rows past their retention, by index, in one short transaction, and answers how many it deleted. The caller
 * (src/supervisor/purge.ts) repeats a method until it answers less than `limit`. Deletes are idempotent, so two
 * supervisors purging at once only share the work. Times are epoch milliseconds.
 */
import type { AgentState } from '../domain/agent';
import type { TaskStatus } from '../domain/task';

export interface PurgeStore {
  /**
   * Deletes up to `limit` tasks in one of `statuses` (terminal ones) that finished before `finishedBefore`, with
   * their events, logs, log drops and webhook deliveries (and the deliveries' attempts).
   */
  purgeTasks(opts: { statuses: TaskStatus[]; finishedBefore: number; limit: number }): Promise<number>;
  /** Deletes up to `limit` agents in one of `states` whose last heartbeat is older than `before`, with their events. */
  purgeAgents(opts: { states: AgentState[]; before: number; limit: number }): Promise<number>;
  /** Deletes up to `limit` of the oldest audit entries written before `before`. */
  purgeAudit(opts: { before: number; limit: number }): Promise<number>;
}
