/**
 * Rows of the store's tables and their mapping to the domain records, shared by both adapters. The tables
 * have the same columns in SQLite and SQL Server; only how each driver returns three kinds of value differs
 * (`ColumnTypes`): times (epoch ms in SQLite, UTC Dates from tedious), flags (0/1, bit → boolean) and
 * bigint sequence numbers (numbers, strings from tedious).
 */
import type { WorkflowTaskContext } from '../domain/workflow';
import type { Route } from '../domain/capabilities';
import type { DeclaredPool } from '../domain/pool';
import type { ApiKeyRecord, AuditEntry, Role } from '../domain/security';
import type { Priority, TaskError, TaskEvent, TaskEventKind, TaskRecord, TaskStatus } from '../domain/task';
import type { DispatchRow, ExpiredLease, RouteStats, TaskHead } from './port';
import {
  mapAgent,
  mapAgentEvent,
  mapAgentRun,
  mapAgentSample,
  type AgentEventRowOf,
  type AgentRowOf,
  type AgentRunRowOf,
  type AgentSampleRowOf,
} from './agentRows';

export interface ColumnTypes<Time, Flag, Seq> {
  time(value: Time): number;
  flag(value: Flag): boolean;
  seq(value: Seq): number;
}

/** JSON text for a column; `undefined` (not representable in JSON) is stored as `null`. */
export function toJson(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}

export function fromJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

export const optional = <Time>(c: ColumnTypes<Time, unknown, unknown>, value: Time | null): number | null =>
  value === null ? null : c.time(value);

export interface TaskRowOf<Time, Flag> {
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
  lease_expires_at: Time | null;
  cancel_requested: Flag;
  timeout_seconds: number | null;
  not_before: Time;
  deadline: Time | null;
  idempotency_key: string | null;
  request_hash: string | null;
  submitted_by: string | null;
  trace_parent: string | null;
  sensitive: Flag;
  /** Added by migration 0008 (SQLite V9). */
  progress: string | null;
  progress_at: Time | null;
  callback_url?: string | null;
  /** Added by migration 0017 (SQLite V18): a workflow step's context, JSON. */
  workflow?: string | null;
  created_at: Time;
  started_at: Time | null;
  finished_at: Time | null;
  updated_at: Time;
}

export function mapTask<Time, Flag>(row: TaskRowOf<Time, Flag>, c: ColumnTypes<Time, Flag, unknown>): TaskRecord {
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
    leaseExpiresAt: optional(c, row.lease_expires_at),
    cancelRequested: c.flag(row.cancel_requested),
    timeoutSeconds: row.timeout_seconds,
    notBefore: c.time(row.not_before),
    deadline: optional(c, row.deadline),
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    submittedBy: row.submitted_by,
    traceParent: row.trace_parent,
    sensitive: c.flag(row.sensitive),
    callbackUrl: row.callback_url ?? null,
    createdAt: c.time(row.created_at),
    startedAt: optional(c, row.started_at),
    finishedAt: optional(c, row.finished_at),
    updatedAt: c.time(row.updated_at),
    // Left out when none, so a record reads the same as before progress existed.
    ...(row.progress_at === null || row.progress_at === undefined
      ? {}
      : { progress: fromJson<unknown>(row.progress), progressAt: c.time(row.progress_at) }),
    // Likewise left out for a task outside any workflow.
    ...(row.workflow ? { workflow: fromJson<WorkflowTaskContext>(row.workflow) } : {}),
  };
}

export interface TaskEventRowOf<Time, Seq> {
  seq: Seq;
  task_id: string;
  at: Time;
  kind: string;
  attempt: number;
  agent_id: string | null;
  data: string | null;
}

export function mapTaskEvent<Time, Seq>(row: TaskEventRowOf<Time, Seq>, c: ColumnTypes<Time, unknown, Seq>): TaskEvent {
  return {
    seq: c.seq(row.seq),
    taskId: row.task_id,
    at: c.time(row.at),
    kind: row.kind as TaskEventKind,
    attempt: row.attempt,
    agentId: row.agent_id,
    data: fromJson<unknown>(row.data),
  };
}

export interface DispatchRowOf<Time> {
  id: string;
  attempt: number;
  type: string;
  required_capabilities: string;
  priority: string;
  not_before: Time;
  trace_parent: string | null;
}

export function mapDispatch<Time>(row: DispatchRowOf<Time>, c: ColumnTypes<Time, unknown, unknown>): DispatchRow {
  return {
    id: row.id,
    attempt: row.attempt,
    type: row.type,
    requiredCapabilities: JSON.parse(row.required_capabilities) as string[],
    priority: row.priority as Priority,
    notBefore: c.time(row.not_before),
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

/** SELECT_TASK_HEADS's rows (both stores). */
export interface TaskHeadRow {
  id: string;
  type: string;
  route_key: string;
  submitted_by: string | null;
  callback_url: string | null;
}

export function toTaskHead(row: TaskHeadRow): TaskHead {
  return {
    id: row.id,
    type: row.type,
    routeKey: row.route_key,
    submittedBy: row.submitted_by,
    callbackUrl: row.callback_url,
  };
}

export interface RouteRow {
  type: string;
  capabilities: string;
}

export function toRoute(row: RouteRow): Route {
  return { type: row.type, capabilities: JSON.parse(row.capabilities) as string[] };
}

export interface ApiKeyRowOf<Time> {
  id: string;
  name: string;
  role: string;
  hash: string;
  prefix: string;
  created_at: Time;
  created_by: string;
  revoked_at: Time | null;
  agent_id?: string | null;
  agent_prefix?: string | null;
}

export function mapApiKey<Time>(row: ApiKeyRowOf<Time>, c: ColumnTypes<Time, unknown, unknown>): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    role: row.role as Role,
    hash: row.hash,
    prefix: row.prefix,
    createdAt: c.time(row.created_at),
    createdBy: row.created_by,
    revokedAt: optional(c, row.revoked_at),
    agentId: row.agent_id ?? null,
    agentPrefix: row.agent_prefix ?? null,
  };
}

export interface AuditRowOf<Time, Seq> {
  seq: Seq;
  at: Time;
  actor: string;
  actor_name: string;
  action: string;
  target: string;
  ip: string | null;
  detail: string | null;
}

export function mapAuditEntry<Time, Seq>(row: AuditRowOf<Time, Seq>, c: ColumnTypes<Time, unknown, Seq>): AuditEntry {
  return {
    seq: c.seq(row.seq),
    at: c.time(row.at),
    actor: row.actor,
    actorName: row.actor_name,
    action: row.action,
    target: row.target,
    ip: row.ip,
    detail: fromJson<unknown>(row.detail),
  };
}

/** A row of the pools table (both stores): lists as JSON. */
export interface PoolRowOf<Time> {
  pool_key: string;
  capabilities: string;
  types: string;
  note: string | null;
  declared_by: string;
  declared_at: Time;
}

export function mapPool<Time>(row: PoolRowOf<Time>, c: ColumnTypes<Time, unknown, unknown>): DeclaredPool {
  return {
    key: row.pool_key,
    capabilities: JSON.parse(row.capabilities) as string[],
    types: JSON.parse(row.types) as string[],
    note: row.note,
    declaredBy: row.declared_by,
    declaredAt: c.time(row.declared_at),
  };
}

/** The parameters of DECLARE_POOL (both stores). */
export function poolParams(pool: DeclaredPool) {
  return {
    key: pool.key,
    capabilities: JSON.stringify(pool.capabilities),
    types: JSON.stringify(pool.types),
    note: pool.note,
    declaredBy: pool.declaredBy,
    declaredAt: pool.declaredAt,
  };
}

/** A row of ROUTE_STATS (both stores): counts of one route. */
export interface RouteStatsRowOf<Time> {
  type: string;
  capabilities: string;
  queued: number;
  delayed: number;
  running: number;
  dead: number;
  oldest_queued_at: Time | null;
}

export function mapRouteStats<Time>(row: RouteStatsRowOf<Time>, c: ColumnTypes<Time, unknown, unknown>): RouteStats {
  return {
    type: row.type,
    capabilities: JSON.parse(row.capabilities) as string[],
    queued: row.queued,
    delayed: row.delayed,
    running: row.running,
    dead: row.dead,
    oldestQueuedAt: optional(c, row.oldest_queued_at),
  };
}

/** Every mapper, bound to one driver's column types. */
export function rowMappers<Time, Flag, Seq>(c: ColumnTypes<Time, Flag, Seq>) {
  return {
    toTask: (row: TaskRowOf<Time, Flag>) => mapTask(row, c),
    toTaskEvent: (row: TaskEventRowOf<Time, Seq>) => mapTaskEvent(row, c),
    toDispatch: (row: DispatchRowOf<Time>) => mapDispatch(row, c),
    toAgent: (row: AgentRowOf<Time>) => mapAgent(row, c),
    toAgentEvent: (row: AgentEventRowOf<Time, Seq>) => mapAgentEvent(row, c),
    toAgentSample: (row: AgentSampleRowOf<Time>) => mapAgentSample(row, c),
    toApiKey: (row: ApiKeyRowOf<Time>) => mapApiKey(row, c),
    toAuditEntry: (row: AuditRowOf<Time, Seq>) => mapAuditEntry(row, c),
    toRouteStats: (row: RouteStatsRowOf<Time>) => mapRouteStats(row, c),
    toAgentRun: (row: AgentRunRowOf<Time>) => mapAgentRun(row, c),
    toPool: (row: PoolRowOf<Time>) => mapPool(row, c),
  };
}
