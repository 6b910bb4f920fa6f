/**
 * The agent registry of the mssql adapter: register, heartbeat, state changes, reads, paging, removal and the
 * metrics samples, one batch of \`statements/agents.ts\` per call. Twin of \`sqlite/agents.ts\`.
 */
import type { AgentEvent, AgentRecord, AgentSample, AgentState } from '../../domain/agent';
import type { AgentStore } from '../agentPort';
import type {
  AgentPageQuery,
  AgentRecycleChange,
  AgentRegistration,
  AgentSettingsUpdate,
  AgentStateChange,
  HeartbeatReport,
} from '../port';
import { changedIn, type SqlClient } from './client';
import * as mapping from './rows';
import * as agentStatements from './statements/agents';

export class MssqlAgents implements Omit<AgentStore, 'listAgentRuns' | 'countAgentRuns'> {
  constructor(private readonly db: SqlClient) {}

  async registerAgent(reg: AgentRegistration, now: number): Promise<AgentRecord> {
    const row = await this.db.one<string, mapping.AgentRow>(
      agentStatements.REGISTER_AGENT,
      mapping.registrationParams(reg, now),
    );
    if (!row) throw new Error(`mssql: REGISTER_AGENT returned no row for agent ${reg.id}`);
    return mapping.toAgent(row);
  }

  async heartbeat(report: HeartbeatReport): Promise<AgentRecord | null> {
    const row = await this.db.one<string, mapping.AgentRow>(agentStatements.HEARTBEAT, {
      id: report.agentId,
      now: report.now,
      runningTasks: report.runningTasks,
      metrics: report.metrics === null ? null : JSON.stringify(report.metrics),
      concurrency: report.concurrency ?? null,
    });
    return row ? mapping.toAgent(row) : null;
  }

  async updateAgentSettings(update: AgentSettingsUpdate): Promise<AgentRecord | null> {
    const row = await this.db.one<string, mapping.AgentRow>(agentStatements.UPDATE_AGENT_SETTINGS, {
      id: update.agentId,
      desiredConcurrency: update.desiredConcurrency,
      disabledTypes: JSON.stringify(update.disabledTypes),
      reason: update.reason,
      now: update.now,
    });
    return row ? mapping.toAgent(row) : null;
  }

  async setAgentState(opts: AgentStateChange): Promise<boolean> {
    const sets = await this.db.run(agentStatements.SET_AGENT_STATE, {
      agentId: opts.agentId,
      to: opts.to,
      fromStates: opts.from === undefined ? null : JSON.stringify(opts.from),
      source: opts.source ?? 'agent',
      reason: opts.reason,
      now: opts.now,
    });
    return changedIn(sets);
  }

  async setAgentRecycle(change: AgentRecycleChange): Promise<boolean> {
    const params = { id: change.agentId, expected: change.expected, to: change.to };
    return (await this.db.all(agentStatements.SET_AGENT_RECYCLE, params)).length === 1;
  }

  async getAgent(id: string): Promise<AgentRecord | null> {
    const row = await this.db.one<'id', mapping.AgentRow>(agentStatements.SELECT_AGENT, { id });
    return row ? mapping.toAgent(row) : null;
  }

  async listAgents(): Promise<AgentRecord[]> {
    return (await this.db.all<never, mapping.AgentRow>(agentStatements.SELECT_AGENTS, {})).map(mapping.toAgent);
  }

  async recordAgentSamples(samples: AgentSample[]): Promise<number> {
    if (samples.length === 0) return 0;
    const row = await this.db.one<'samples', { stored: number }>(agentStatements.RECORD_AGENT_SAMPLES, {
      samples: JSON.stringify(samples),
    });
    return row?.stored ?? 0;
  }

  async listAgentSamples(q: { agentId: string; since: number; limit: number }): Promise<AgentSample[]> {
    const rows = await this.db.all<string, mapping.AgentSampleRow>(agentStatements.SELECT_AGENT_SAMPLES, q);
    return rows.map(mapping.toAgentSample);
  }

  async purgeAgentSamples(q: { before: number; limit: number }): Promise<number> {
    return (await this.db.one<string, { purged: number }>(agentStatements.PURGE_AGENT_SAMPLES, q))?.purged ?? 0;
  }

  async listAgentsPage(q: AgentPageQuery): Promise<AgentRecord[]> {
    const rows = await this.db.all<string, mapping.AgentRow>(agentStatements.SELECT_AGENTS_PAGE, {
      afterId: q.afterId ?? '',
      state: q.state ?? null,
      capability: q.capability ?? null,
      hideGoneBefore: q.hideGoneBefore ?? null,
      limit: q.limit,
    });
    return rows.map(mapping.toAgent);
  }

  async listAgentEvents(agentId: string): Promise<AgentEvent[]> {
    return (await this.db.all<'agentId', mapping.AgentEventRow>(agentStatements.SELECT_AGENT_EVENTS, { agentId })).map(
      mapping.toAgentEvent,
    );
  }

  async removeAgent(agentId: string, states: AgentState[]): Promise<boolean> {
    if (states.length === 0) return false;
    const rows = await this.db.all(agentStatements.DELETE_AGENT_IN_STATES, {
      id: agentId,
      states: JSON.stringify(states),
    });
    return rows.length === 1;
  }
}
