/**
 * Rows as tedious returns them, and their mapping to the domain records.
 *
 * Times: the port speaks epoch milliseconds; the columns are datetime2(3) in UTC. With `useUTC` (set in
 * connection.ts) tedious sends a Date as UTC and reads datetime2 back as a UTC Date, both at millisecond
 * precision, so `new Date(ms)` → datetime2(3) → `getTime()` returns `ms` exactly. A fractional millisecond (the
 * port never makes one) would be truncated.
 *
 * bigint columns (event and audit sequence numbers) arrive as strings; they stay far below 2^53.
 */
import type { AgentEvent, AgentMetrics, AgentRecord, AgentState, StateSource } from '../../domain/agent';
import type { Route } from '../../domain/capabilities';
import type { ApiKeyRecord, AuditEntry, Role } from '../../domain/security';
import type { Priority, TaskError, TaskEvent, TaskEventKind, TaskRecord, TaskStatus } from '../../domain/task';
import type { DispatchRow, ExpiredLease } from '../port';

export function toDate(ms: number): Date {
  return new Date(ms);
}

/** 'YYYY-MM-DDTHH:mm:ss.fff' (UTC, no zone): the form OPENJSON … WITH (x datetime2(3)) converts exactly. */
export function toIsoMs(ms: number): string {
  return new Date(ms).toISOString().slice(0, 23);
}

export function fromDate(value: Date): number;
export function fromDate(value: Date | null): number | null;
export function fromDate(value: Date | null): number | null {
  return value === null ? null : value.getTime();
}

/** A bigint column (tedious returns it as a string). */
export function fromBigint(value: string | number): number {
  return typeof value === 'number' ? value : Number(value);
}

export function toJson(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}

export function fromJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

export interface TaskRow {
  id: string;
  type: string;
  status: string;
  attempt: number;
  max_attempts: number;
  required_capabilities: string;
  priority: string;
  payload: string;
  result: string | null;
  error: string | null;
  agent_id: string | null;
  lease_expires_at: Date | null;
  cancel_requested: boolean;
  timeout_seconds: number | null;
  not_before: Date;
  deadline: Date | null;
  idempotency_key: string | null;
  request_hash: string | null;
  submitted_by: string | null;
  trace_parent: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
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
    leaseExpiresAt: fromDate(row.lease_expires_at),
    cancelRequested: row.cancel_requested,
    timeoutSeconds: row.timeout_seconds,
    notBefore: fromDate(row.not_before),
    deadline: fromDate(row.deadline),
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    submittedBy: row.submitted_by,
    traceParent: row.trace_parent,
    createdAt: fromDate(row.created_at),
    startedAt: fromDate(row.started_at),
    finishedAt: fromDate(row.finished_at),
    updatedAt: fromDate(row.updated_at),
  };
}

export interface TaskEventRow {
  seq: string | number;
  task_id: string;
  at: Date;
  kind: string;
  attempt: number;
  agent_id: string | null;
  data: string | null;
}

export function toTaskEvent(row: TaskEventRow): TaskEvent {
  return {
    seq: fromBigint(row.seq),
    taskId: row.task_id,
    at: fromDate(row.at),
    kind: row.kind as TaskEventKind,
    attempt: row.attempt,
    agentId: row.agent_id,
    data: fromJson<unknown>(row.data),
  };
}

export interface DispatchDbRow {
  id: string;
  attempt: number;
  type: string;
  required_capabilities: string;
  priority: string;
  not_before: Date;
  trace_parent: string | null;
}

export function toDispatch(row: DispatchDbRow): DispatchRow {
  return {
    id: row.id,
    attempt: row.attempt,
    type: row.type,
    requiredCapabilities: JSON.parse(row.required_capabilities) as string[],
    priority: row.priority as Priority,
    notBefore: fromDate(row.not_before),
    ...(row.trace_parent === null ? {} : { traceParent: row.trace_parent }),
  };
}

export interface LeaseDbRow {
  id: string;
  attempt: number;
  max_attempts: number;
  agent_id: string | null;
}

export function toLease(row: LeaseDbRow): ExpiredLease {
  return { id: row.id, attempt: row.attempt, maxAttempts: row.max_attempts, agentId: row.agent_id };
}

export function toRoute(row: { type: string; capabilities: string }): Route {
  return { type: row.type, capabilities: JSON.parse(row.capabilities) as string[] };
}

export interface AgentRow {
  id: string;
  capabilities: string;
  types: string;
  concurrency: number;
  state: string;
  state_source: string;
  hostname: string;
  pid: number;
  version: string;
  started_at: Date;
  last_heartbeat_at: Date;
  running_tasks: number;
  metrics: string | null;
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
    startedAt: fromDate(row.started_at),
    lastHeartbeatAt: fromDate(row.last_heartbeat_at),
    runningTasks: row.running_tasks,
    metrics: fromJson<AgentMetrics>(row.metrics),
    stateSource: row.state_source as StateSource,
  };
}

export interface AgentEventRow {
  seq: string | number;
  agent_id: string;
  at: Date;
  from_state: string | null;
  to_state: string;
  reason: string;
}

export function toAgentEvent(row: AgentEventRow): AgentEvent {
  return {
    seq: fromBigint(row.seq),
    agentId: row.agent_id,
    at: fromDate(row.at),
    fromState: row.from_state as AgentState | null,
    toState: row.to_state as AgentState,
    reason: row.reason,
  };
}

export interface ApiKeyRow {
  id: string;
  name: string;
  role: string;
  hash: string;
  prefix: string;
  created_at: Date;
  created_by: string;
  revoked_at: Date | null;
}

export function toApiKey(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    role: row.role as Role,
    hash: row.hash,
    prefix: row.prefix,
    createdAt: fromDate(row.created_at),
    createdBy: row.created_by,
    revokedAt: fromDate(row.revoked_at),
  };
}

export interface AuditRow {
  seq: string | number;
  at: Date;
  actor: string;
  actor_name: string;
  action: string;
  target: string;
  ip: string | null;
  detail: string | null;
}

export function toAuditEntry(row: AuditRow): AuditEntry {
  return {
    seq: fromBigint(row.seq),
    at: fromDate(row.at),
    actor: row.actor,
    actorName: row.actor_name,
    action: row.action,
    target: row.target,
    ip: row.ip,
    detail: fromJson<unknown>(row.detail),
  };
}
