/** Rows as SQLite returns them, and their mapping to the domain records. */

/**
 * Whether `err` is an error from SQLite, with its code (`SQLITE_BUSY`, `SQLITE_CONSTRAINT_UNIQUE`, …).
 * Checked by shape rather than `instanceof Database.SqliteError`: the native addon keeps the error class of
 * the first copy of better-sqlite3 loaded in a process, so under several module registries (jest) the class
 * differs from the one this module sees.
 */
export function sqliteErrorCode(err: unknown): string | null {
  // Not even `instanceof Error`: under jest the addon's errors come from another realm.
  if (typeof err !== 'object' || err === null) return null;
  const { name, code } = err as { name?: unknown; code?: unknown };
  return name === 'SqliteError' && typeof code === 'string' ? code : null;
}
import type { AgentEvent, AgentMetrics, AgentRecord, AgentState, StateSource } from '../../domain/agent';
import type { Route } from '../../domain/capabilities';
import type { Priority, TaskError, TaskEvent, TaskEventKind, TaskRecord, TaskStatus } from '../../domain/task';
import type { DispatchRow, ExpiredLease } from '../port';

export interface TaskRow {
  id: string;
  type: string;
  status: string;
  attempt: number;
  max_attempts: number;
  required_capabilities: string;
  route_key: string;
  priority: string;
  payload: string;
  result: string | null;
  error: string | null;
  agent_id: string | null;
  lease_expires_at: number | null;
  cancel_requested: number;
  timeout_seconds: number | null;
  not_before: number;
  deadline: number | null;
  idempotency_key: string | null;
  request_hash: string | null;
  submitted_by: string | null;
  trace_parent: string | null;
  dispatched_at: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
}

export interface TaskEventRow {
  seq: number;
  task_id: string;
  at: number;
  kind: string;
  attempt: number;
  agent_id: string | null;
  data: string | null;
}

export interface DispatchDbRow {
  id: string;
  attempt: number;
  type: string;
  required_capabilities: string;
  priority: string;
  not_before: number;
  trace_parent: string | null;
}

export interface RouteRow {
  type: string;
  capabilities: string;
}

export interface AgentRow {
  id: string;
  capabilities: string;
  types: string;
  concurrency: number;
  state: string;
  hostname: string;
  pid: number;
  version: string;
  started_at: number;
  last_heartbeat_at: number;
  running_tasks: number;
  metrics: string | null;
  state_source: string;
}

export interface AgentEventRow {
  seq: number;
  agent_id: string;
  at: number;
  from_state: string | null;
  to_state: string;
  reason: string;
}

/** JSON text for a column; `undefined` (not representable in JSON) is stored as `null`. */
export function toJson(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}

export function fromJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

export function toTask(row: TaskRow): TaskRecord {
  return {
    id: row.id,
    type: row.type,
    status: row.status as TaskStatus,
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    requiredCapabilities: JSON.parse(row.required_capabilities) as string[],
    priority: row.priority as Priority,
    payload: fromJson<unknown>(row.payload),
    result: fromJson<unknown>(row.result),
    error: fromJson<TaskError>(row.error),
    agentId: row.agent_id,
    leaseExpiresAt: row.lease_expires_at,
    cancelRequested: row.cancel_requested !== 0,
    timeoutSeconds: row.timeout_seconds,
    notBefore: row.not_before,
    deadline: row.deadline,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    submittedBy: row.submitted_by,
    traceParent: row.trace_parent,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    updatedAt: row.updated_at,
  };
}

export function toTaskEvent(row: TaskEventRow): TaskEvent {
  return {
    seq: row.seq,
    taskId: row.task_id,
    at: row.at,
    kind: row.kind as TaskEventKind,
    attempt: row.attempt,
    agentId: row.agent_id,
    data: fromJson<unknown>(row.data),
  };
}

export function toDispatch(row: DispatchDbRow): DispatchRow {
  return {
    id: row.id,
    attempt: row.attempt,
    type: row.type,
    requiredCapabilities: JSON.parse(row.required_capabilities) as string[],
    priority: row.priority as Priority,
    notBefore: row.not_before,
    ...(row.trace_parent === null ? {} : { traceParent: row.trace_parent }),
  };
}

/** A running task's lease key, as the expired-lease and per-agent lease listings return it. */
export interface LeaseDbRow {
  id: string;
  attempt: number;
  max_attempts: number;
  agent_id: string | null;
}

export function toLease(row: LeaseDbRow): ExpiredLease {
  return { id: row.id, attempt: row.attempt, maxAttempts: row.max_attempts, agentId: row.agent_id };
}

export function toRoute(row: RouteRow): Route {
  return { type: row.type, capabilities: JSON.parse(row.capabilities) as string[] };
}

export function toAgent(row: AgentRow): AgentRecord {
  return {
    id: row.id,
    capabilities: JSON.parse(row.capabilities) as string[],
    types: JSON.parse(row.types) as string[],
    concurrency: row.concurrency,
    state: row.state as AgentState,
    hostname: row.hostname,
    pid: row.pid,
    version: row.version,
    startedAt: row.started_at,
    lastHeartbeatAt: row.last_heartbeat_at,
    runningTasks: row.running_tasks,
    metrics: fromJson<AgentMetrics>(row.metrics),
    stateSource: row.state_source as StateSource,
  };
}

export function toAgentEvent(row: AgentEventRow): AgentEvent {
  return {
    seq: row.seq,
    agentId: row.agent_id,
    at: row.at,
    fromState: row.from_state as AgentState | null,
    toState: row.to_state as AgentState,
    reason: row.reason,
  };
}
