/**
 * The agent registry part of the store port (Store extends it): what agents are, their state and its history,
 * their heartbeats and the metrics history sampled from them. The leases an agent holds stay with the tasks
 * (port.ts: listLeasesOf, reclaimLease).
 */
import type {
  AgentEvent,
  AgentMetrics,
  AgentRecord,
  AgentSample,
  AgentState,
  AgentTransport,
  StateSource,
} from '../domain/agent';

/** A change of an agent's state asked of `Store.setAgentState`. */
export interface AgentStateChange {
  agentId: string;
  to: AgentState;
  /** Apply only when the current state is one of these (any state, when omitted). */
  from?: AgentState[];
  /** Recorded on the agent event. */
  reason: string;
  now: number;
  /** Who sets the state; `agent` when omitted. */
  source?: StateSource;
}

/** A compare-and-set of an agent's recycle request, asked of `Store.setAgentRecycle`. */
export interface AgentRecycleChange {
  agentId: string;
  /** Apply only when the stored value is this (null: no request outstanding). */
  expected: number | null;
  /** The new value: when the supervisor asks (epoch ms), or null when the stall it asked about cleared. */
  to: number | null;
}

/** An admin's settings for an agent, asked of `Store.updateAgentSettings`: the values to store, both of them. */
export interface AgentSettingsUpdate {
  agentId: string;
  /** Null: as the agent registered. */
  desiredConcurrency: number | null;
  /** Sorted, deduplicated task types. */
  disabledTypes: string[];
  /** The reason of the agent event the change leaves (the state stays; `from` and `to` are the current one). */
  reason: string;
  now: number;
}

export interface AgentRegistration {
  id: string;
  capabilities: string[];
  types: string[];
  concurrency: number;
  hostname: string;
  pid: number;
  version: string;
  /** `redis` when omitted (a Node worker). */
  transport?: AgentTransport;
  metadata?: Record<string, unknown> | null;
}

/** One finished attempt of an agent, from its `succeeded` or `failed` task event. */
/** An agent's finished attempts in a window, counted (what its health score weighs, for a page of agents). */
export interface AgentRunCounts {
  agentId: string;
  succeeded: number;
  failed: number;
}

export interface AgentRun {
  at: number;
  outcome: 'succeeded' | 'failed';
  /** Time from the attempt's start to its outcome; null when unknown. */
  runMs: number | null;
}

/** One page of `listAgentsPage`: by id ascending after `afterId`, narrowed by the optional filters. */
export interface AgentPageQuery {
  state?: AgentState;
  /** Agents whose capabilities contain this one. */
  capability?: string;
  /** Leave out the agents `stopped` or `failed` whose last heartbeat is older than this (epoch ms). */
  hideGoneBefore?: number;
  afterId?: string;
  limit: number;
}

export interface HeartbeatReport {
  agentId: string;
  now: number;
  runningTasks: number;
  metrics: AgentMetrics | null;
  /** The slots the agent applies now (its desired concurrency once applied); the stored value stays when omitted. */
  concurrency?: number;
}

export interface AgentStore {
  /** Creates or revives an agent (state `running`), appending an agent event. */
  registerAgent(reg: AgentRegistration, now: number): Promise<AgentRecord>;
  /** Records a heartbeat; returns the agent as stored (its state tells the worker what to do) or null. */
  heartbeat(report: HeartbeatReport): Promise<AgentRecord | null>;
  /**
   * Sets the state when the current one is in `from` (any, when omitted), recording who set it
   * (`source`, default `agent`); appends an agent event. False when unknown, not in `from`, or already `to`.
   */
  setAgentState(change: AgentStateChange): Promise<boolean>;
  /**
   * Sets the agent's `recycleRequestedAt` to `to` when it is `expected` (a compare-and-set; no agent event).
   * False when the agent is unknown or the value differs. The worker reads it from its heartbeat answer.
   */
  setAgentRecycle(change: AgentRecycleChange): Promise<boolean>;
  /**
   * Stores an admin's settings for the agent (the agent applies them at its next heartbeat) and appends an agent
   * event from and to its current state with `reason`, in one transaction. The agent as stored, or null when
   * unknown. A registration keeps them.
   */
  updateAgentSettings(update: AgentSettingsUpdate): Promise<AgentRecord | null>;
  getAgent(id: string): Promise<AgentRecord | null>;
  listAgents(): Promise<AgentRecord[]>;
  /** One page of agents (the API's list): id order, keyset after `afterId`, at most `limit`. */
  listAgentsPage(query: AgentPageQuery): Promise<AgentRecord[]>;
  listAgentEvents(agentId: string): Promise<AgentEvent[]>;
  /** Deletes an agent and its events when its state is one of `states`; false otherwise. */
  removeAgent(agentId: string, states: AgentState[]): Promise<boolean>;
  /**
   * Stores metrics samples, one per agent and time: a sample whose (agent, at) is stored already, or whose agent
   * is gone, is left out (several supervisors sample at once). Answers how many were stored.
   */
  recordAgentSamples(samples: AgentSample[]): Promise<number>;
  /** One agent's samples at or after `since`, oldest first, at most `limit`. */
  listAgentSamples(q: { agentId: string; since: number; limit: number }): Promise<AgentSample[]>;
  /** Deletes up to `limit` samples older than `before`, oldest first; answers how many. */
  purgeAgentSamples(q: { before: number; limit: number }): Promise<number>;
  /** The agent's finished attempts (succeeded or failed events) at or after `since`. */
  listAgentRuns(agentId: string, since: number): Promise<AgentRun[]>;
  /** The finished attempts of each of `agentIds` at or after `since`, counted in one read; none: left out. */
  countAgentRuns(opts: { agentIds: readonly string[]; since: number }): Promise<AgentRunCounts[]>;
}
