/**
 * The agent registry: register, heartbeat, state changes, reads, removal. Twin of `mssql/statements/agents.ts`
 * (whose REGISTER_AGENT is UPSERT_AGENT or REREGISTER_KEEPING_STATE here, chosen by `../agents.ts`, and whose
 * SET_AGENT_STATE reads the state first as `../agents.ts` does). Writes with RETURNING are run with `.all()`.
 */
import type { Database } from 'better-sqlite3';
import type { AgentEventRow, AgentRow, AgentSampleRow } from '../rows';

/** SELECT_AGENT: one agent. Params: @id. Result: the row or none. */
export const SELECT_AGENT = `SELECT * FROM agents WHERE id = @id`;

/**
 * UPSERT_AGENT: creates or revives an agent as `running` (set by the agent itself), its start and heartbeat at @now, no running
 * tasks or metrics yet. Params: @id, @capabilities (JSON), @types (JSON), @concurrency, @hostname, @pid,
 * @version, @transport, @metadata (JSON or null), @now. Result: the row.
 */
export const UPSERT_AGENT = `
INSERT INTO agents (id, capabilities, types, concurrency, state, state_source, hostname, pid, version, started_at,
  last_heartbeat_at, running_tasks, metrics, state_reason, recycle_requested_at, transport, metadata)
VALUES (@id, @capabilities, @types, @concurrency, 'running', 'agent', @hostname, @pid, @version, @now, @now, 0, NULL,
  'registered', NULL, @transport, @metadata)
ON CONFLICT (id) DO UPDATE SET capabilities = excluded.capabilities, types = excluded.types,
  concurrency = excluded.concurrency, state = 'running', state_source = 'agent', hostname = excluded.hostname,
  pid = excluded.pid, version = excluded.version, started_at = excluded.started_at,
  last_heartbeat_at = excluded.last_heartbeat_at, running_tasks = 0, metrics = NULL, state_reason = 'registered',
  recycle_requested_at = NULL, transport = excluded.transport, metadata = excluded.metadata
RETURNING *`;

/**
 * REREGISTER_KEEPING_STATE: re-registers an agent that must keep its state (frozen, or held by an admin): the registration fields, start
 * and heartbeat at @now, no running tasks or metrics yet and no recycle request (a new process has fresh
 * connections), state, state_source and state_reason unchanged.
 * Params: as UPSERT_AGENT, plus @state (the state read in the same transaction). Result: the row, or none when
 * the agent is gone or its state changed.
 */
export const REREGISTER_KEEPING_STATE = `
UPDATE agents SET capabilities = @capabilities, types = @types, concurrency = @concurrency, hostname = @hostname,
  pid = @pid, version = @version, started_at = @now, last_heartbeat_at = @now, running_tasks = 0, metrics = NULL,
  recycle_requested_at = NULL, transport = @transport, metadata = @metadata
WHERE id = @id AND state = @state
RETURNING *`;

/**
 * HEARTBEAT: records a heartbeat, and the concurrency the agent applies when it reports one. Params: @id, @now,
 * @runningTasks, @metrics (JSON or null), @concurrency (or null: unchanged). Result: the row, or none.
 */
export const HEARTBEAT = `
UPDATE agents SET last_heartbeat_at = @now, running_tasks = @runningTasks, metrics = @metrics,
  concurrency = COALESCE(@concurrency, concurrency)
WHERE id = @id
RETURNING *`;

/**
 * UPDATE_AGENT_SETTINGS: stores an admin's settings for the agent. Params: @id, @desiredConcurrency (or null),
 * @disabledTypes (JSON array). Result: the row, or none when unknown. `../agents.ts` appends the agent event.
 */
export const UPDATE_AGENT_SETTINGS = `
UPDATE agents SET desired_concurrency = @desiredConcurrency, disabled_types = @disabledTypes WHERE id = @id
RETURNING *`;

/**
 * SET_AGENT_STATE: moves an agent from exactly @from to @to, set by @source for @reason (kept to 1,000 characters, as
 * the T-SQL column is). Params: @id, @from, @to, @source, @reason. Changes: 0|1.
 */
export const SET_AGENT_STATE = `
UPDATE agents SET state = @to, state_source = @source, state_reason = substr(@reason, 1, 1000)
WHERE id = @id AND state = @from`;

/**
 * SET_AGENT_RECYCLE: sets the agent's recycle request to @to (epoch ms or null) when it is @expected (null
 * included): a compare-and-set, so of several supervisors seeing one stall only one asks. Params: @id,
 * @expected, @to. Changes: 0|1.
 */
export const SET_AGENT_RECYCLE = `
UPDATE agents SET recycle_requested_at = @to WHERE id = @id AND recycle_requested_at IS @expected`;

/** INSERT_AGENT_EVENT: appends an agent event. Params: @agentId, @at, @fromState (or null), @toState, @reason. */
export const INSERT_AGENT_EVENT = `
INSERT INTO agent_events (agent_id, at, from_state, to_state, reason)
VALUES (@agentId, @at, @fromState, @toState, @reason)`;

/** SELECT_AGENTS: every agent, by id. */
export const SELECT_AGENTS = `SELECT * FROM agents ORDER BY id`;

/**
 * SELECT_AGENTS_PAGE: agents by id after @afterId, of @state and with @capability when given (null: any), leaving
 * out the stopped and failed ones last heard of before @hideGoneBefore (null: none left out); at most @limit.
 * The primary key's order; the agents table is the fleet's size, and each filter is a cheap row check.
 */
export const SELECT_AGENTS_PAGE = `
SELECT * FROM agents
WHERE id > @afterId AND (@state IS NULL OR state = @state)
  AND (@capability IS NULL OR EXISTS (SELECT 1 FROM json_each(agents.capabilities) WHERE value = @capability))
  AND (@hideGoneBefore IS NULL OR state NOT IN ('stopped', 'failed') OR last_heartbeat_at >= @hideGoneBefore)
ORDER BY id LIMIT @limit`;

/**
 * RECORD_AGENT_SAMPLES: inserts the samples of @samples (JSON [{ agentId, at, runningTasks, concurrency,
 * cpuPercent, rssBytes, heartbeatAgeMs }]) whose (agent, at) is new and whose agent exists. Changes: how many.
 */
export const RECORD_AGENT_SAMPLES = `
INSERT OR IGNORE INTO agent_metrics (agent_id, at, running_tasks, concurrency, cpu_percent, rss_bytes, heartbeat_age_ms)
SELECT j.value ->> 'agentId', j.value ->> 'at', j.value ->> 'runningTasks', j.value ->> 'concurrency',
  j.value ->> 'cpuPercent', j.value ->> 'rssBytes', j.value ->> 'heartbeatAgeMs'
FROM json_each(@samples) AS j
WHERE EXISTS (SELECT 1 FROM agents WHERE id = j.value ->> 'agentId')`;

/** SELECT_AGENT_SAMPLES: one agent's samples at or after @since, oldest first (the primary key). Params: @agentId, @since, @limit. */
export const SELECT_AGENT_SAMPLES = `
SELECT * FROM agent_metrics WHERE agent_id = @agentId AND at >= @since ORDER BY at LIMIT @limit`;

/** PURGE_AGENT_SAMPLES: deletes up to @limit samples older than @before, oldest first (agent_metrics_at). */
export const PURGE_AGENT_SAMPLES = `
DELETE FROM agent_metrics WHERE rowid IN (SELECT rowid FROM agent_metrics WHERE at < @before ORDER BY at LIMIT @limit)`;

/** SELECT_AGENT_EVENTS: an agent's events in order. Params: @agentId. */
export const SELECT_AGENT_EVENTS = `SELECT * FROM agent_events WHERE agent_id = @agentId ORDER BY seq`;

/**
 * DELETE_AGENT_IN_STATES: deletes an agent whose state is one of @states (its agent_events go with it: ON DELETE
 * CASCADE). Params: @id, @states (JSON array). Changes: 0|1.
 */
export const DELETE_AGENT_IN_STATES = `
DELETE FROM agents WHERE id = @id AND state IN (SELECT value FROM json_each(@states))`;

export interface UpsertAgentParams {
  id: string;
  capabilities: string;
  types: string;
  concurrency: number;
  hostname: string;
  pid: number;
  version: string;
  transport: string;
  metadata: string | null;
  now: number;
}

export interface AgentEventParams {
  agentId: string;
  at: number;
  fromState: string | null;
  toState: string;
  reason: string;
}

export function prepareAgentStatements(db: Database) {
  return {
    selectAgent: db.prepare<{ id: string }, AgentRow>(SELECT_AGENT),
    upsertAgent: db.prepare<UpsertAgentParams, AgentRow>(UPSERT_AGENT),
    reregisterKeepingState: db.prepare<UpsertAgentParams & { state: string }, AgentRow>(REREGISTER_KEEPING_STATE),
    heartbeat: db.prepare<
      { id: string; now: number; runningTasks: number; metrics: string | null; concurrency: number | null },
      AgentRow
    >(HEARTBEAT),
    updateAgentSettings: db.prepare<{ id: string; desiredConcurrency: number | null; disabledTypes: string }, AgentRow>(
      UPDATE_AGENT_SETTINGS,
    ),
    setAgentState: db.prepare<{ id: string; from: string; to: string; source: string; reason: string }>(
      SET_AGENT_STATE,
    ),
    setAgentRecycle: db.prepare<{ id: string; expected: number | null; to: number | null }>(SET_AGENT_RECYCLE),
    insertAgentEvent: db.prepare<AgentEventParams>(INSERT_AGENT_EVENT),
    selectAgents: db.prepare<[], AgentRow>(SELECT_AGENTS),
    recordAgentSamples: db.prepare<{ samples: string }>(RECORD_AGENT_SAMPLES),
    selectAgentSamples: db.prepare<{ agentId: string; since: number; limit: number }, AgentSampleRow>(
      SELECT_AGENT_SAMPLES,
    ),
    purgeAgentSamples: db.prepare<{ before: number; limit: number }>(PURGE_AGENT_SAMPLES),
    selectAgentsPage: db.prepare<
      {
        afterId: string;
        state: string | null;
        capability: string | null;
        hideGoneBefore: number | null;
        limit: number;
      },
      AgentRow
    >(SELECT_AGENTS_PAGE),
    selectAgentEvents: db.prepare<{ agentId: string }, AgentEventRow>(SELECT_AGENT_EVENTS),
    deleteAgentInStates: db.prepare<{ id: string; states: string }>(DELETE_AGENT_IN_STATES),
  };
}

export type AgentStatements = ReturnType<typeof prepareAgentStatements>;
