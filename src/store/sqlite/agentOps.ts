/**
 * The agent-registry writes of the SQLite adapter, as functions over the prepared statements. The caller
 * runs `registerAgent` and `setAgentState` inside one IMMEDIATE transaction (they read, then write).
 */
import type { AgentRecord, AgentState } from '../../domain/agent';
import type { AgentRegistration, HeartbeatReport } from '../port';
import type { AgentStatements } from './agentStatements';
import { toAgent } from './rows';

/** Upserts the agent as `running` and records the move from its previous state (null when new). */
export function registerAgent(s: AgentStatements, reg: AgentRegistration, now: number): AgentRecord {
  const previous = s.selectAgent.get({ id: reg.id });
  const [row] = s.upsertAgent.all({
    id: reg.id,
    capabilities: JSON.stringify(reg.capabilities),
    types: JSON.stringify(reg.types),
    concurrency: reg.concurrency,
    hostname: reg.hostname,
    pid: reg.pid,
    version: reg.version,
    now,
  });
  if (!row) throw new Error(`sqlite: upsert of agent ${reg.id} returned no row`);
  s.insertAgentEvent.run({
    agentId: reg.id,
    at: now,
    fromState: previous?.state ?? null,
    toState: 'running',
    reason: 'registered',
  });
  return toAgent(row);
}

export function heartbeat(s: AgentStatements, report: HeartbeatReport): AgentRecord | null {
  const [row] = s.heartbeat.all({
    id: report.agentId,
    now: report.now,
    runningTasks: report.runningTasks,
    metrics: report.metrics === null ? null : JSON.stringify(report.metrics),
  });
  return row ? toAgent(row) : null;
}

/**
 * Moves the agent to `to` when its state is in `from` (any, when omitted). Returns false, appending nothing,
 * when the agent is unknown, not in `from`, or already in `to`.
 */
export function setAgentState(
  s: AgentStatements,
  opts: { agentId: string; to: AgentState; from?: AgentState[]; reason: string; now: number },
): boolean {
  const row = s.selectAgent.get({ id: opts.agentId });
  if (!row || row.state === opts.to) return false;
  if (opts.from !== undefined && !opts.from.includes(row.state as AgentState)) return false;
  s.setAgentState.run({ id: opts.agentId, from: row.state, to: opts.to });
  s.insertAgentEvent.run({
    agentId: opts.agentId,
    at: opts.now,
    fromState: row.state,
    toState: opts.to,
    reason: opts.reason,
  });
  return true;
}
