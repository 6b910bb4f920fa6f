/**
 * The supervisor's task maintenance: leases that expired (their worker died or stalled) and queued tasks
 * whose deadline passed. Safe with several supervisors: every write is conditional on status and attempt,
 * so when two supervisors reap the same lease only one write takes effect.
 */
import { noTelemetry, type Telemetry } from '../telemetry/telemetry';
import type { Logger } from 'pino';
import type { Clock } from '../domain/clock';
import { afterLeaseExpiry } from '../domain/transitions';
import type { Dispatcher } from '../dispatch/dispatcher';
import { notifyTaskChanged } from '../dispatch/notify';
import type { Store } from '../store/port';

export class TaskMaintenance {
  constructor(
    private readonly store: Store,
    private readonly dispatcher: Dispatcher,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly telemetry: Telemetry = noTelemetry,
    private readonly batchSize = 200,
  ) {}

  /** Returns expired leases to the queue (or to `dead`); returns how many were reclaimed. */
  async reapExpiredLeases(): Promise<number> {
    const now = this.clock.now();
    const expired = await this.store.listExpiredLeases(now, this.batchSize);
    let reclaimed = 0;
    for (const lease of expired) {
      const decision = afterLeaseExpiry(lease, now);
      const ok = await this.store.requeueExpiredLease({ taskId: lease.id, attempt: lease.attempt, now, decision });
      if (!ok) continue;
      reclaimed++;
      notifyTaskChanged(this.dispatcher.redis, this.dispatcher.prefix, lease.id);
      this.log.warn(
        { taskId: lease.id, attempt: lease.attempt, agentId: lease.agentId, outcome: decision.status },
        'lease expired',
      );
      const task = await this.store.getTask(lease.id);
      if (!task) continue;
      this.telemetry.taskEvent(decision.status === 'queued' ? 'TaskRetried' : 'TaskDead', task, {
        reason: 'lease_expired',
        agentId: lease.agentId ?? undefined,
      });
      if (decision.status === 'queued' && task.status === 'queued') {
        // Best effort: if Redis is down the reconciler sends it later.
        await this.dispatcher.send([task], now).catch((err: unknown) => {
          this.log.warn({ err, taskId: task.id }, 'could not enqueue a reclaimed task; the reconciler will');
        });
      }
    }
    return reclaimed;
  }

  /** Expires queued tasks whose deadline passed before any worker started them. */
  async expireOverdue(): Promise<number> {
    const now = this.clock.now();
    const overdue = await this.store.listOverdue(now, this.batchSize);
    let expired = 0;
    for (const t of overdue) {
      if (!(await this.store.expireTask({ taskId: t.id, attempt: t.attempt, now }))) continue;
      expired++;
      notifyTaskChanged(this.dispatcher.redis, this.dispatcher.prefix, t.id);
      if (this.telemetry.enabled) {
        const task = await this.store.getTask(t.id);
        if (task) this.telemetry.taskEvent('TaskExpired', task);
      }
    }
    if (expired > 0) this.log.info({ expired }, 'expired queued tasks past their deadline');
    return expired;
  }
}
