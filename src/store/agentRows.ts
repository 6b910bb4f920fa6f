/** Agent rows of both adapters (the registry, its events, samples and runs) and their mapping (see rowMapping.ts). */
import {
  servedTypes,
  type AgentEvent,
  type AgentMetrics,
  type AgentRecord,
  type AgentSample,
  type AgentState,
  type StateSource,
} from '../domain/agent';
import type { AgentRegistration, AgentRun } from './port';
import { fromJson, optional, type ColumnTypes } from './rowMapping';

export interface AgentRowOf<Time> {
  id: string;
  capabilities: string;
  types: string;
  concurrency: number;
  state: string;
  state_source: string;
  hostname: string;
  pid: number;
  version: string;
  started_at: Time;
  last_heartbeat_at: Time;
  running_tasks: number;
  metrics: string | null;
  state_reason: string | null;
  recycle_requested_at: Time | null;
  transport?: string | null;
  metadata?: string | null;
  desired_concurrency?: number | null;
  disabled_types?: string | null;
}

export function mapAgent<Time>(row: AgentRowOf<Time>, c: ColumnTypes<Time, unknown, unknown>): AgentRecord {
  const disabledTypes = fromJson<string[]>(row.disabled_types ?? null) ?? [];
  return {
    id: row.id,
    capabilities: JSON.parse(row.capabilities) as string[],
    types: servedTypes(JSON.parse(row.types) as string[], disabledTypes),
    concurrency: row.concurrency,
    desiredConcurrency: row.desired_concurrency ?? null,
    disabledTypes,
    state: row.state as AgentState,
    hostname: row.hostname,
    pid: row.pid,
    version: row.version,
    startedAt: c.time(row.started_at),
    lastHeartbeatAt: c.time(row.last_heartbeat_at),
    runningTasks: row.running_tasks,
    metrics: fromJson<AgentMetrics>(row.metrics),
    stateSource: row.state_source as StateSource,
    stateReason: row.state_reason,
    recycleRequestedAt: optional(c, row.recycle_requested_at),
    transport: row.transport === 'http' ? 'http' : 'redis',
    metadata: fromJson<Record<string, unknown>>(row.metadata ?? null),
  };
}

export interface AgentSampleRowOf<Time> {
  agent_id: string;
  at: Time;
  running_tasks: number;
  concurrency: number;
  cpu_percent: number | null;
  /** bigint: tedious answers a string. */
  rss_bytes: number | string | null;
  heartbeat_age_ms: number | string;
}

export function mapAgentSample<Time>(row: AgentSampleRowOf<Time>, c: ColumnTypes<Time, unknown, unknown>): AgentSample {
  return {
    agentId: row.agent_id,
    at: c.time(row.at),
    runningTasks: row.running_tasks,
    concurrency: row.concurrency,
    cpuPercent: row.cpu_percent,
    rssBytes: row.rss_bytes === null ? null : Number(row.rss_bytes),
    heartbeatAgeMs: Number(row.heartbeat_age_ms),
  };
}

export interface AgentEventRowOf<Time, Seq> {
  seq: Seq;
  agent_id: string;
  at: Time;
  from_state: string | null;
  to_state: string;
  reason: string;
}

export function mapAgentEvent<Time, Seq>(
  row: AgentEventRowOf<Time, Seq>,
  c: ColumnTypes<Time, unknown, Seq>,
): AgentEvent {
  return {
    seq: c.seq(row.seq),
    agentId: row.agent_id,
    at: c.time(row.at),
    fromState: row.from_state as AgentState | null,
    toState: row.to_state as AgentState,
    reason: row.reason,
  };
}

/** A row of SELECT_AGENT_RUNS (both stores): `run_ms` is read from the event's JSON, a number or its text. */
export interface AgentRunRowOf<Time> {
  at: Time;
  kind: string;
  run_ms: number | string | null;
}

/** A run time that is missing or not a number (an event written before runMs existed) is null. */
export function mapAgentRun<Time>(row: AgentRunRowOf<Time>, c: ColumnTypes<Time, unknown, unknown>): AgentRun {
  const runMs = row.run_ms === null ? NaN : Number(row.run_ms);
  return {
    at: c.time(row.at),
    outcome: row.kind as AgentRun['outcome'],
    runMs: Number.isFinite(runMs) ? runMs : null,
  };
}

/** The parameters of REGISTER_AGENT (both stores): an agent's registration, lists as JSON. */
export function registrationParams(reg: AgentRegistration, now: number) {
  return {
    id: reg.id,
    capabilities: JSON.stringify(reg.capabilities),
    types: JSON.stringify(reg.types),
    concurrency: reg.concurrency,
    hostname: reg.hostname,
    pid: reg.pid,
    version: reg.version,
    transport: reg.transport ?? 'redis',
    metadata: reg.metadata ? JSON.stringify(reg.metadata) : null,
    now,
  };
}
