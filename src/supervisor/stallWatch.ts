/**
 * The stall watch: defence in depth for connections that go silent. A worker whose Redis connections stopped
 * answering (no error, no reset) keeps heartbeating through SQL and looks healthy; the supervisor sees the
 * truth in SQL, routable tasks waiting beside that idle agent, and tells it (in its heartbeat answer) to
 * recycle its Redis connections, then marks it degraded if that did not help. The decisions are
 * `src/domain/stall.ts`'s.
 *
 * Safe with several supervisors: the request is a compare-and-set from null (one supervisor asks, logs and
 * counts), clearing it one from the value read, and state changes are conditional on the state read.
 */
import type { Logger } from 'pino';
import type { AgentRecord } from '../domain/agent';
import type { Clock } from '../domain/clock';
import { stallAction, type StallAction, type StallPolicy } from '../domain/stall';
import type { Store } from '../store/port';
import { METRICS, noTelemetry, type Telemetry } from '../telemetry/telemetry';

export interface StallPass {
  asked: number;
  degraded: number;
  cleared: number;
  recovered: number;
}

export class StallWatch {
  constructor(
    private readonly store: Store,
    private readonly policy: StallPolicy,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly telemetry: Telemetry = noTelemetry,
  ) {}

  get enabled(): boolean {
    return this.policy.stallAfterMs > 0;
  }

  /** One pass over every agent; returns what it changed. */
  async check(): Promise<StallPass> {
    const pass: StallPass = { asked: 0, degraded: 0, cleared: 0, recovered: 0 };
    if (!this.enabled) return pass;
    const agents = await this.store.listAgents();
    if (agents.length === 0) return pass;
    const now = this.clock.now();
    const routes = await this.store.routeStats(now);
    for (const agent of agents) {
      const action = stallAction(agent, routes, now, this.policy);
      if (action) await this.apply(agent, action, now, pass);
    }
    return pass;
  }

  private async apply(agent: AgentRecord, action: StallAction, now: number, pass: StallPass): Promise<void> {
    const agentId = agent.id;
    switch (action.kind) {
      case 'request_recycle': {
        if (!(await this.store.setAgentRecycle({ agentId, expected: null, to: now }))) return;
        pass.asked++;
        const { route, waiting, waitMs } = action.evidence;
        this.log.warn(
          { agentId, route, waiting, oldestWaitMs: waitMs, freeSlots: agent.concurrency - agent.runningTasks },
          'agent stalled: tasks it covers wait while it has free slots; asked it to recycle its Redis connections',
        );
        this.telemetry.metric(METRICS.agentStalls, 1, { agentId, route, oldestWaitMs: waitMs });
        return;
      }
      case 'degrade': {
        const change = { agentId, to: 'degraded' as const, from: [agent.state], reason: action.reason, now };
        if (!(await this.store.setAgentState({ ...change, source: 'enforcer' }))) return;
        pass.degraded++;
        this.log.warn(
          { agentId, route: action.evidence.route, oldestWaitMs: action.evidence.waitMs, reason: action.reason },
          'agent degraded: still stalled after it was asked to recycle its Redis connections',
        );
        this.telemetry.agentStateChanged(agentId, agent.state, 'degraded', action.reason);
        return;
      }
      case 'recover': {
        const change = { agentId, to: 'running' as const, from: ['degraded' as const], reason: action.reason, now };
        if (await this.store.setAgentState({ ...change, source: 'enforcer' })) {
          pass.recovered++;
          this.log.info({ agentId }, 'agent consuming again: back to running');
          this.telemetry.agentStateChanged(agentId, 'degraded', 'running', action.reason);
        }
        await this.clear(agent, pass);
        return;
      }
      case 'clear_recycle':
        await this.clear(agent, pass);
        return;
    }
  }

  private async clear(agent: AgentRecord, pass: StallPass): Promise<void> {
    if (agent.recycleRequestedAt === null) return;
    const change = { agentId: agent.id, expected: agent.recycleRequestedAt, to: null };
    if (!(await this.store.setAgentRecycle(change))) return;
    pass.cleared++;
    this.log.info({ agentId: agent.id }, 'agent stall cleared');
  }
}
