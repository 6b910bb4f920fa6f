/**
 * The heartbeat enforcer loop and lease reclaiming. Safe with several supervisors: a state change is
 * conditional on the state the enforcer read, and a reclaim on the attempt and the holder, so when two
 * supervisors act on the same agent only one change takes effect.
 */
import { METRICS, noTelemetry, type Telemetry } from '../telemetry/telemetry';
import type { Logger } from 'pino';
import type { Clock } from '../domain/clock';
import { enforcementAction, LEFT_ALONE, missedHeartbeats, type EnforcementPolicy } from '../domain/enforcement';
import { afterLeaseExpiry } from '../domain/transitions';
import type { Dispatcher } from '../dispatch/dispatcher';
import { notifyTaskChanged } from '../dispatch/notify';
import type { Store } from '../store/port';

export class HeartbeatEnforcer {
  /** Enforcement is held because no agent is heard from (logged once per hold). */
  private holding = false;

  constructor(
    private readonly store: Store,
    private readonly dispatcher: Dispatcher,
    private readonly policy: EnforcementPolicy,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly telemetry: Telemetry = noTelemetry,
  ) {}

  /**
   * Applies the thresholds to every agent; returns how many changed state.
   *
   * Judged on one snapshot at one instant: a write that waited (the store's write lock held by a stopped
   * process) ends the pass, since judging the snapshot's heartbeats at a later clock would count the wait as
   * heartbeats missed. And when every watched agent (two or more) is late at once, what stopped is far more
   * likely the store, or the path to it, than every agent together: nothing is escalated until one of them
   * is heard from again (a dead fleet's tasks still come back through lease expiry).
   */
  async enforceHeartbeats(): Promise<number> {
    let changed = 0;
    const agents = await this.store.listAgents();
    const now = this.clock.now();
    const { heartbeatIntervalMs, warnAfter } = this.policy;
    const watched = agents.filter((a) => !LEFT_ALONE.has(a.state));
    if (watched.length >= 2) {
      const freshest = Math.max(...watched.map((a) => a.lastHeartbeatAt));
      if (missedHeartbeats({ lastHeartbeatAt: freshest }, now, heartbeatIntervalMs) >= warnAfter) {
        if (!this.holding) this.log.warn({ agents: watched.length }, 'no agent heartbeats: holding enforcement');
        this.holding = true;
        return 0;
      }
    }
    this.holding = false;
    for (const agent of agents) {
      const action = enforcementAction(agent, now, this.policy);
      if (!action) continue;
      if (this.clock.now() - now > heartbeatIntervalMs) break;
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
      notifyTaskChanged(this.dispatcher.redis, this.dispatcher.prefix, lease.id);
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
