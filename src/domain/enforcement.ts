/**
 * Heartbeat enforcement: what an agent's state should become given how many heartbeats it missed.
 *
 *   missed ≥ warnAfter (3)     → warning    (still takes work)
 *   missed ≥ suspendAfter (5)  → suspended  (takes no new work; its leases are reclaimed at once)
 *   missed ≥ freezeAfter (10)  → frozen     (stays out, even when it comes back, until an admin unfreezes it)
 *   heartbeating again         → running, from warning, or from suspended when the enforcer suspended it
 *
 * Agents that stopped or failed cleanly, and frozen agents, are left alone; so are states an admin set,
 * except that an agent an admin left running or draining can still be warned, suspended and frozen.
 */
import type { AgentRecord, AgentState } from './agent';

export interface EnforcementPolicy {
  heartbeatIntervalMs: number;
  warnAfter: number;
  suspendAfter: number;
  freezeAfter: number;
}

export const DEFAULT_THRESHOLDS = { warnAfter: 3, suspendAfter: 5, freezeAfter: 10 } as const;

export interface EnforcementAction {
  to: AgentState;
  reason: string;
  /** The leases of an agent moving to suspended or frozen are taken back at once. */
  reclaimLeases: boolean;
}

export function missedHeartbeats(agent: Pick<AgentRecord, 'lastHeartbeatAt'>, now: number, intervalMs: number): number {
  return Math.max(0, Math.floor((now - agent.lastHeartbeatAt) / intervalMs));
}

/** States the enforcer no longer acts on. */
export const LEFT_ALONE: ReadonlySet<AgentState> = new Set(['stopped', 'failed', 'frozen']);
const TAKES_WORK: ReadonlySet<AgentState> = new Set(['registered', 'running', 'degraded', 'warning', 'draining']);

export function enforcementAction(
  agent: Pick<AgentRecord, 'state' | 'stateSource' | 'lastHeartbeatAt'>,
  now: number,
  policy: EnforcementPolicy,
): EnforcementAction | null {
  if (LEFT_ALONE.has(agent.state)) return null;
  const missed = missedHeartbeats(agent, now, policy.heartbeatIntervalMs);
  const adminHold = agent.stateSource === 'admin' && agent.state === 'suspended';
  if (missed >= policy.freezeAfter) {
    return {
      to: 'frozen',
      reason: `missed ${missed} heartbeats (freeze at ${policy.freezeAfter})`,
      reclaimLeases: true,
    };
  }
  if (missed >= policy.suspendAfter) {
    if (agent.state === 'suspended') return null;
    return {
      to: 'suspended',
      reason: `missed ${missed} heartbeats (suspend at ${policy.suspendAfter})`,
      reclaimLeases: true,
    };
  }
  if (missed >= policy.warnAfter) {
    if (agent.state === 'warning' || agent.state === 'suspended' || !TAKES_WORK.has(agent.state)) return null;
    if (agent.state === 'draining') return null; // draining keeps its state; it is warned by its missed count
    return { to: 'warning', reason: `missed ${missed} heartbeats (warn at ${policy.warnAfter})`, reclaimLeases: false };
  }
  if (agent.state === 'warning') return { to: 'running', reason: 'heartbeats resumed', reclaimLeases: false };
  if (agent.state === 'suspended' && !adminHold) {
    return { to: 'running', reason: 'heartbeats resumed', reclaimLeases: false };
  }
  return null;
}
