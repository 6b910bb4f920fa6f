/**
 * The fleet policy `TASKFLEET_UNROUTABLE_EXPIRE_AFTER` (off by default): queued tasks that nothing could run
 * for that long are expired, with `{ reason: 'unroutable' }` in their `expired` event, rather than waiting for
 * an agent that may never come (GitHub's runners give up on a job after 24 hours the same way).
 *
 * A task counts when its route is unroutable now (no live agent and no declared pool covers it) and it has been
 * due for the whole period. A route that was covered for a while in between still counts, since its task would
 * have run then unless the covering pool was busy; a task waiting behind a busy pool that covers it is never
 * expired. The routes come from the indexed per-route counts, the tasks from the per-route index, a batch at a
 * time; each expiry is conditional on the attempt, so several supervisors expire each task once.
 */
import type { Logger } from 'pino';
import type { Clock } from '../domain/clock';
import { notifyTaskChanged } from '../dispatch/notify';
import type { Dispatcher } from '../dispatch/dispatcher';
import type { Store } from '../store/port';
import { AgentDirectory } from './agentDirectory';

export interface UnroutableSettings {
  /** How long a task may wait unroutable; 0 turns the policy off. */
  expireAfterMs: number;
  /** Tasks expired per route and pass. */
  batch: number;
}

export class UnroutablePolicy {
  constructor(
    private readonly store: Store,
    private readonly directory: Pick<AgentDirectory, 'routing'>,
    private readonly dispatcher: Pick<Dispatcher, 'redis' | 'prefix'>,
    private readonly settings: UnroutableSettings,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  get enabled(): boolean {
    return this.settings.expireAfterMs > 0;
  }

  /** One pass: expires the tasks due for longer than the period on routes nothing covers now. */
  async expire(): Promise<number> {
    if (!this.enabled) return 0;
    const now = this.clock.now();
    const dueBefore = now - this.settings.expireAfterMs;
    const [routes, routing] = await Promise.all([this.store.routeStats(now), this.directory.routing()]);
    let expired = 0;
    for (const r of routes) {
      if (r.queued === 0 || r.oldestQueuedAt === null || r.oldestQueuedAt > dueBefore) continue;
      if (AgentDirectory.routable({ type: r.type, requiredCapabilities: r.capabilities }, routing)) continue;
      const route = { type: r.type, capabilities: r.capabilities };
      const rows = await this.store.listQueuedOnRoute({
        route,
        dueBefore,
        sentBefore: now,
        limit: this.settings.batch,
      });
      for (const row of rows) {
        if (!(await this.store.expireUnroutable({ taskId: row.id, attempt: row.attempt, dueBefore, now }))) continue;
        expired++;
        notifyTaskChanged(this.dispatcher.redis, this.dispatcher.prefix, row.id);
      }
    }
    if (expired > 0)
      this.log.info({ expired }, 'expired queued tasks that nothing could run (TASKFLEET_UNROUTABLE_EXPIRE_AFTER)');
    return expired;
  }
}
