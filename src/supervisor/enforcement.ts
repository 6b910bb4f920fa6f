/**
 * The heartbeat enforcer loop and lease reclaiming. Safe with several supervisors: a state change is
 * conditional on the state the enforcer read, and a reclaim on the attempt and the holder, so when two
 * supervisors act on the same agent only one change takes effect.
 */
import { METRICS, noTelemetry, type Telemetry } from '../telemetry/telemetry';
import type { Logger } from 'pino';
import type { Clock } from '../domain/clock';
import { enforcementAction, type EnforcementPolicy } from '../domain/enforcement';
import { afterLeaseExpiry } from '../domain/transitions';
import type { Dispatcher } from '../dispatch/dispatcher';
import type { Store } from '../store/port';

export class HeartbeatEnforcer {
  constructor(
    private readonly store: Store,
    private readonly dispatcher: Dispatcher,
    private readonly policy: EnforcementPolicy,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly telemetry: Telemetry = noTelemetry,
  ) {}

  /** Applies the thresholds to every agent; returns how many changed state. */
  async enforceHeartbeats(): Promise<number> {
    let changed = 0;
    for (const agent of await this.store.listAgents()) {
      const now = this.clock.now();
      const action = enforcementAction(agent, now, this.policy);
      if (!action) continue;
      const ok = await this.store.setAgentState({
        agentId: agent.id,
        to: action.to,
        from: [agent.state],
        reason: action.reason,
        now,
        source: 'enforcer',
      });
      if (!ok) continue;
      changed++;
      this.telemetry.agentStateChanged(agent.id, agent.state, action.to, action.reason);
      this.log.warn(
        { agentId: agent.id, from: agent.state, to: action.to, reason: action.reason },
        'agent state enforced',
      );
      if (action.reclaimLeases) await this.reclaimLeases(agent.id);
    }
    return changed;
  }

  /** Takes back every lease the agent holds; its tasks are queued again (or dead when attempts are spent). */
  async reclaimLeases(agentId: string): Promise<number> {
    let reclaimed = 0;
    for (const lease of await this.store.listLeasesOf(agentId, 1000)) {
      const now = this.clock.now();
      const decision = afterLeaseExpiry(lease, now);
      if (!(await this.store.reclaimLease({ taskId: lease.id, attempt: lease.attempt, agentId, now, decision })))
        continue;
      reclaimed++;
      const task = await this.store.getTask(lease.id);
      if (task) this.telemetry.taskEvent('TaskLeaseReclaimed', task, { agentId, outcome: decision.status });
      if (decision.status !== 'queued') continue;
      if (task?.status === 'queued') {
        await this.dispatcher.send([task], now).catch((err: unknown) => {
          this.log.warn({ err, taskId: task.id }, 'could not enqueue a reclaimed task; the reconciler will');
        });
      }
    }
    if (reclaimed > 0) {
      this.log.warn({ agentId, reclaimed }, 'reclaimed the leases of an agent');
      this.telemetry.metric(METRICS.leaseReclaims, reclaimed, { agentId });
    }
    return reclaimed;
  }
}
