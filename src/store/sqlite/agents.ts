/**
 * The agent registry of the SQLite adapter: register, heartbeat, state changes, settings, metrics samples,
 * reads, removal (SqliteAgents, at the end, over the functions before it). Twin of `mssql/agents.ts`.
 */
import type { AgentEvent, AgentRecord, AgentState, StateSource } from '../../domain/agent';
import type {
  AgentPageQuery,
  AgentRecycleChange,
  AgentRegistration,
  AgentSettingsUpdate,
  AgentStateChange,
  HeartbeatReport,
} from '../port';
import type { AgentSample } from '../../domain/agent';
import type { AgentStore } from '../agentPort';
import { registrationParams, toAgent, toAgentEvent, toAgentSample, type AgentRow } from './rows';
import type { SqliteRunners } from './schedules';
import type { SqliteStatements } from './statements';
import type { UpsertAgentParams } from './statements/agents';

/** Admin-set states a re-registering agent does not leave (it must be released by an admin). */
const ADMIN_HOLDS: ReadonlySet<string> = new Set<AgentState>(['suspended', 'draining']);

/** A frozen agent, and one an admin suspended or set draining, keep their state when they register again. */
function keepsState(row: AgentRow): boolean {
  return row.state === 'frozen' || (row.state_source === 'admin' && ADMIN_HOLDS.has(row.state));
}

/**
 * Upserts the agent as `running` and records the move from its previous state (null when new). An agent that
 * keeps its state (see `keepsState`) gets its registration fields updated, its state and source untouched, and
 * an event from and to that state, `registered while <state>`: the returned record tells the worker to stay out.
 */
export function registerAgent(statements: SqliteStatements, reg: AgentRegistration, now: number): AgentRecord {
  const previous = statements.agents.selectAgent.get({ id: reg.id });
  const params: UpsertAgentParams = registrationParams(reg, now);
  if (previous && keepsState(previous)) {
    const [kept] = statements.agents.reregisterKeepingState.all({ ...params, state: previous.state });
    if (!kept) throw new Error(`sqlite: re-registration of agent ${reg.id} in state ${previous.state} changed no row`);
    statements.agents.insertAgentEvent.run({
      agentId: reg.id,
      at: now,
      fromState: previous.state,
      toState: previous.state,
      reason: `registered while ${previous.state}`,
    });
    return toAgent(kept);
  }
  const [row] = statements.agents.upsertAgent.all(params);
  if (!row) throw new Error(`sqlite: upsert of agent ${reg.id} returned no row`);
  statements.agents.insertAgentEvent.run({
    agentId: reg.id,
    at: now,
    fromState: previous?.state ?? null,
    toState: 'running',
    reason: 'registered',
  });
  return toAgent(row);
}

export function heartbeat(statements: SqliteStatements, report: HeartbeatReport): AgentRecord | null {
  const [row] = statements.agents.heartbeat.all({
    id: report.agentId,
    now: report.now,
    runningTasks: report.runningTasks,
    metrics: report.metrics === null ? null : JSON.stringify(report.metrics),
    concurrency: report.concurrency ?? null,
  });
  return row ? toAgent(row) : null;
}

/** Stores the settings and appends an agent event from and to the agent's state. Run inside one transaction. */
export function updateAgentSettings(statements: SqliteStatements, update: AgentSettingsUpdate): AgentRecord | null {
  const [row] = statements.agents.updateAgentSettings.all({
    id: update.agentId,
    desiredConcurrency: update.desiredConcurrency,
    disabledTypes: JSON.stringify(update.disabledTypes),
  });
  if (!row) return null;
  statements.agents.insertAgentEvent.run({
    agentId: update.agentId,
    at: update.now,
    fromState: row.state,
    toState: row.state,
    reason: update.reason,
  });
  return toAgent(row);
}

/**
 * Moves the agent to `to` when its state is in `from` (any, when omitted), recording `source` (default
 * `agent`) as who set it. Returns false, appending nothing, when the agent is unknown, not in `from`, or
 * already in `to`.
 */
export function setAgentState(statements: SqliteStatements, opts: AgentStateChange): boolean {
  const row = statements.agents.selectAgent.get({ id: opts.agentId });
  if (!row || row.state === opts.to) return false;
  if (opts.from !== undefined && !opts.from.includes(row.state as AgentState)) return false;
  const source: StateSource = opts.source ?? 'agent';
  const params = { id: opts.agentId, from: row.state, to: opts.to, source, reason: opts.reason };
  if (statements.agents.setAgentState.run(params).changes === 0) return false;
  statements.agents.insertAgentEvent.run({
    agentId: opts.agentId,
    at: opts.now,
    fromState: row.state,
    toState: opts.to,
    reason: opts.reason,
  });
  return true;
}

/** Sets the agent's recycle request to `to` when it is `expected` (a compare-and-set). */
export function setAgentRecycle(statements: SqliteStatements, change: AgentRecycleChange): boolean {
  const params = { id: change.agentId, expected: change.expected, to: change.to };
  return statements.agents.setAgentRecycle.run(params).changes === 1;
}

/** Deletes the agent (and, by cascade, its events) when its state is one of `states`. One statement. */
export function removeAgent(statements: SqliteStatements, agentId: string, states: AgentState[]): boolean {
  if (states.length === 0) return false;
  return statements.agents.deleteAgentInStates.run({ id: agentId, states: JSON.stringify(states) }).changes === 1;
}

export function getAgent(statements: SqliteStatements, id: string): AgentRecord | null {
  const row = statements.agents.selectAgent.get({ id });
  return row ? toAgent(row) : null;
}

export function listAgentEvents(statements: SqliteStatements, agentId: string): AgentEvent[] {
  return statements.agents.selectAgentEvents.all({ agentId }).map(toAgentEvent);
}

export function listAgentsPage(statements: SqliteStatements, q: AgentPageQuery): AgentRecord[] {
  return statements.agents.selectAgentsPage
    .all({
      afterId: q.afterId ?? '',
      state: q.state ?? null,
      capability: q.capability ?? null,
      hideGoneBefore: q.hideGoneBefore ?? null,
      limit: q.limit,
    })
    .map(toAgent);
}

/**
 * The registry as the port offers it, over the functions above: writes in the group commit (`registerAgent` and
 * `setAgentState` read, then write, inside its IMMEDIATE transaction), reads directly. Twin of MssqlAgents.
 */
export class SqliteAgents implements Omit<AgentStore, 'listAgentRuns' | 'countAgentRuns'> {
  constructor(
    private readonly statements: SqliteStatements,
    private readonly runners: SqliteRunners,
  ) {}

  registerAgent(reg: AgentRegistration, now: number): Promise<AgentRecord> {
    return this.runners.write(() => registerAgent(this.statements, reg, now));
  }

  heartbeat(report: HeartbeatReport): Promise<AgentRecord | null> {
    return this.runners.write(() => heartbeat(this.statements, report));
  }

  setAgentState(change: AgentStateChange): Promise<boolean> {
    return this.runners.write(() => setAgentState(this.statements, change));
  }

  setAgentRecycle(change: AgentRecycleChange): Promise<boolean> {
    return this.runners.write(() => setAgentRecycle(this.statements, change));
  }

  updateAgentSettings(update: AgentSettingsUpdate): Promise<AgentRecord | null> {
    return this.runners.write(() => updateAgentSettings(this.statements, update));
  }

  getAgent(id: string): Promise<AgentRecord | null> {
    return this.runners.read(() => getAgent(this.statements, id));
  }

  listAgents(): Promise<AgentRecord[]> {
    return this.runners.read(() => this.statements.agents.selectAgents.all().map(toAgent));
  }

  listAgentsPage(query: AgentPageQuery): Promise<AgentRecord[]> {
    return this.runners.read(() => listAgentsPage(this.statements, query));
  }

  listAgentEvents(agentId: string): Promise<AgentEvent[]> {
    return this.runners.read(() => listAgentEvents(this.statements, agentId));
  }

  removeAgent(agentId: string, states: AgentState[]): Promise<boolean> {
    return this.runners.write(() => removeAgent(this.statements, agentId, states));
  }

  recordAgentSamples(samples: AgentSample[]): Promise<number> {
    if (samples.length === 0) return Promise.resolve(0);
    return this.runners.write(
      () => this.statements.agents.recordAgentSamples.run({ samples: JSON.stringify(samples) }).changes,
    );
  }

  listAgentSamples(q: { agentId: string; since: number; limit: number }): Promise<AgentSample[]> {
    return this.runners.read(() => this.statements.agents.selectAgentSamples.all(q).map(toAgentSample));
  }

  purgeAgentSamples(q: { before: number; limit: number }): Promise<number> {
    return this.runners.write(() => this.statements.agents.purgeAgentSamples.run(q).changes);
  }
}
